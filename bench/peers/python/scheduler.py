# Scheduler side-car.
import sys, time
import httpx
url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080/flush_queues"
period = float(sys.argv[2]) if len(sys.argv) > 2 else 60
count = int(sys.argv[3]) if len(sys.argv) > 3 else -1
while count != 0:
    httpx.get(url)
    print(time.time(), flush=True)
    time.sleep(period)
    count -= 1
