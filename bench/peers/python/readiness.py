# Readiness side-car (Pyramid + httpx), served by waitress.
import httpx
from pyramid.config import Configurator
from pyramid.response import Response

TARGET = "http://127.0.0.1:18080/known-value"

def check_readiness(request):
    result = httpx.get(TARGET)
    if result.json()["value"] != 5:
        1/0
    return Response("ok")

with Configurator() as config:
    config.add_route('check', '/')
    config.add_view(check_readiness, route_name='check')
    application = config.make_wsgi_app()

if __name__ == "__main__":
    import sys
    from waitress import serve
    serve(application, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 18081, _quiet=True)
