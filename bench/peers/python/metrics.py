# Metrics side-car (Pyramid + prometheus_client + httpx), served by waitress.
import time
import httpx
from prometheus_client import CollectorRegistry, Gauge, generate_latest, CONTENT_TYPE_LATEST
from pyramid.config import Configurator
from pyramid.response import Response

TARGET = "http://127.0.0.1:18080/"
registry = CollectorRegistry()
latency = Gauge('latency', 'seconds to fetch the target', registry=registry)

def metrics(request):
    before = time.time()
    result = httpx.get(TARGET)
    after = time.time()
    latency.set(after - before)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

with Configurator() as config:
    config.add_route('metrics', '/metrics')
    config.add_view(metrics, route_name='metrics')
    application = config.make_wsgi_app()

if __name__ == "__main__":
    import sys
    from waitress import serve
    serve(application, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 18082, _quiet=True)
