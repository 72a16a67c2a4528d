"""A fake AMap / Tianditu / Nominatim geocoder on 127.0.0.1, answering in each documented format.

Used by tests/test_geocode.py, and runnable by hand for a demonstration::

    .venv/bin/python tests/geocode_server.py --port 8765 --demo-csv /tmp/demo.csv
    AMAP_KEY=demo .venv/bin/python -m dashboard.cli geocode /tmp/demo.csv \
        -o /tmp/out.csv --provider amap --base-url http://127.0.0.1:8765 --cache /tmp/c.sqlite

Behaviour is chosen by the address (see ``PLACES`` and the special addresses below) and by the
key: ``bad-key`` is refused. Points are defined in WGS84; the AMap route answers in GCJ-02,
as the real service does.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make `geo` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.crs import wgs84_to_gcj02


@dataclass(frozen=True)
class Place:
    """A place the fake knows, in WGS84, with its AMap/Tianditu level and its OSM shape."""

    lon: float
    lat: float
    level: str
    addresstype: str
    place_rank: int
    name: str


JIADING_GUANGJISUO = "上海市嘉定区清河路390号"
SONGJIANG_POI = "上海市松江区文汇路1188号"
QINGPU_TOWN = "上海市青浦区华新镇"
FENGXIAN_DISTRICT = "上海市奉贤区"
CITY_ONLY = "上海市"
ROAD_TWO_CLOSE = "嘉定区胜辛路"
AMBIGUOUS = "人民路1号"
BEIJING = "北京市朝阳区阜通东大街6号"
HUAQIAO = "昆山市花桥镇"  # inside Shanghai's bounding box, outside its outline
NO_MATCH = "查无此地址999号"
FLAKY = "上海市嘉定区叶城路1288号"  # HTTP 500 once, then an answer
SLOW = "上海市浦东新区环湖西二路888号"  # slower than the client's timeout once, then fast
ALWAYS_500 = "永远故障路1号"
QUOTA = "额度用尽路1号"  # AMap infocode 10003; Tianditu/Nominatim HTTP 429
RATE = "太频繁路1号"  # AMap infocode 10004
BAD_KEY = "bad-key"

PLACES: dict[str, tuple[Place, ...]] = {
    JIADING_GUANGJISUO: (Place(121.245, 31.389, "门牌号", "building", 30, "上海光机所"),),
    SONGJIANG_POI: (Place(121.218, 31.053, "兴趣点", "amenity", 30, "松江大学城"),),
    QINGPU_TOWN: (Place(121.226, 31.239, "乡镇", "town", 16, "华新镇"),),
    FENGXIAN_DISTRICT: (Place(121.474, 30.918, "区县", "county", 12, "奉贤区"),),
    CITY_ONLY: (Place(121.4737, 31.2304, "市", "state", 8, "上海市"),),
    ROAD_TWO_CLOSE: (Place(121.2500, 31.3800, "道路", "road", 26, "胜辛路(北段)"),
                     Place(121.2530, 31.3810, "道路", "road", 26, "胜辛路(南段)")),
    AMBIGUOUS: (Place(121.4850, 31.2270, "门牌号", "building", 30, "黄浦区人民路1号"),
                Place(121.2270, 31.0330, "门牌号", "building", 30, "松江区人民路1号")),
    BEIJING: (Place(116.4745, 39.9883, "门牌号", "building", 30, "北京阜通东大街6号"),),
    HUAQIAO: (Place(121.0950, 31.3000, "乡镇", "town", 16, "花桥镇"),),
    FLAKY: (Place(121.2600, 31.3750, "门牌号", "building", 30, "叶城路1288号"),),
    SLOW: (Place(121.9300, 30.9000, "门牌号", "building", 30, "环湖西二路888号"),),
}


class FakeGeocoder:
    """The three providers on one local port; counts and records every request."""

    def __init__(self, *, slow_s: float = 1.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.slow_s = slow_s
        self.requests: list[dict[str, str]] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a handler still sleeping must not block close
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGeocoder:
        # A short poll interval: shutdown() waits up to one interval (tests start many servers).
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGeocoder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, provider: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if provider in {None, r["provider"]})

    # -- request handling ----------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(handler.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path.endswith("/v3/geocode/geo"):
            provider, address, key = "amap", query.get("address", ""), query.get("key", "")
        elif url.path.endswith("/geocoder"):
            provider, key = "tianditu", query.get("tk", "")
            try:
                address = str(json.loads(query.get("ds", "{}")).get("keyWord", ""))
            except (json.JSONDecodeError, AttributeError):
                address = ""
        elif url.path.endswith("/search"):
            provider, address, key = "nominatim", query.get("q", ""), ""
        else:
            self._send(handler, 404, {"error": "not found"})
            return
        with self._lock:
            self.requests.append({"provider": provider, "address": address, "path": url.path,
                                  "user_agent": handler.headers.get("User-Agent", ""),
                                  **{f"q:{k}": v for k, v in query.items()}})
            seen = self._seen.get((provider, address), 0)
            self._seen[(provider, address)] = seen + 1
        if address == SLOW and seen == 0:
            time.sleep(self.slow_s)
        if address == ALWAYS_500 or (address == FLAKY and seen == 0):
            self._send(handler, 500, {"error": "internal error"}, raw="Internal Server Error")
            return
        getattr(self, f"_answer_{provider}")(handler, address, key)

    def _send(self, handler: BaseHTTPRequestHandler, status: int, doc: object,
              raw: str | None = None) -> None:
        body = (raw if raw is not None else json.dumps(doc, ensure_ascii=False)).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def _answer_amap(self, handler: BaseHTTPRequestHandler, address: str, key: str) -> None:
        # Shapes as in lbs.amap.com/api/webservice/guide/api/georegeo and its info-code table.
        def error(infocode: str, info: str) -> None:
            self._send(handler, 200, {"status": "0", "info": info, "infocode": infocode})

        if key == BAD_KEY:
            error("10001", "INVALID_USER_KEY")
        elif address == QUOTA:
            error("10003", "DAILY_QUERY_OVER_LIMIT")
        elif address == RATE:
            error("10004", "ACCESS_TOO_FREQUENT")
        else:
            geocodes = []
            for place in PLACES.get(address, ()):
                glon, glat = wgs84_to_gcj02(place.lon, place.lat)
                geocodes.append({
                    "formatted_address": place.name, "country": "中国", "province": "上海市",
                    "citycode": "021", "city": "上海市", "district": [], "township": [],
                    "neighborhood": {"name": [], "type": []}, "building": {"name": [], "type": []},
                    "adcode": "310114", "street": [], "number": [],
                    "location": f"{float(glon):.6f},{float(glat):.6f}", "level": place.level,
                })
            self._send(handler, 200, {"status": "1", "info": "OK", "infocode": "10000",
                                      "count": str(len(geocodes)), "geocodes": geocodes})

    def _answer_tianditu(self, handler: BaseHTTPRequestHandler, address: str, key: str) -> None:
        # Shapes as in lbs.tianditu.gov.cn/server/geocodinginterface.html.
        if key == BAD_KEY:
            self._send(handler, 403, {"msg": "非法key", "resolve": "请检查tk", "code": 1})
        elif address == QUOTA:
            self._send(handler, 429, {"msg": "访问超出限制", "code": 429})
        elif address in PLACES:
            place = PLACES[address][0]  # Tianditu gives one location per query
            self._send(handler, 200, {
                "msg": "ok", "status": "0", "searchVersion": "6.4.9V",
                "location": {"lon": place.lon, "lat": place.lat, "level": place.level,
                             "score": 100, "keyWord": address},
            })
        else:
            self._send(handler, 200, {"msg": "查询结果为空", "status": "101",
                                      "searchVersion": "6.4.9V"})

    def _answer_nominatim(self, handler: BaseHTTPRequestHandler, address: str, key: str) -> None:
        # jsonv2 shape as in nominatim.org/release-docs/latest/api/Output.
        agent = handler.headers.get("User-Agent", "")
        if not agent or agent.startswith("Python-urllib"):
            self._send(handler, 403, None, raw="<html>Access blocked: identify your app</html>")
        elif address == QUOTA:
            self._send(handler, 429, None, raw="<html>Too Many Requests</html>")
        else:
            places = [
                {"place_id": 100000 + n, "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
                 "osm_type": "way", "osm_id": 200000 + n, "lat": f"{p.lat:.7f}",
                 "lon": f"{p.lon:.7f}", "category": "place" if p.place_rank < 26 else "building",
                 "type": p.addresstype, "place_rank": p.place_rank, "importance": 0.3,
                 "addresstype": p.addresstype, "name": p.name,
                 "display_name": f"{p.name}, 上海市, 中国",
                 "boundingbox": [f"{p.lat - 0.001:.7f}", f"{p.lat + 0.001:.7f}",
                                 f"{p.lon - 0.001:.7f}", f"{p.lon + 0.001:.7f}"]}
                for n, p in enumerate(PLACES.get(address, ()))
            ]
            self._send(handler, 200, places)


DEMO_ROWS = [
    ("D01", "上海光机所", JIADING_GUANGJISUO, "", ""),
    ("D02", "松江大学城某中心", SONGJIANG_POI, "", ""),
    ("D03", "已有坐标的设施", "上海市嘉定区某路", "121.243000", "31.393000"),
    ("D04", "华新镇某孵化器", QINGPU_TOWN, "", ""),
    ("D05", "只写了城市", CITY_ONLY, "", ""),
    ("D06", "人民路某机构", AMBIGUOUS, "", ""),
    ("D07", "北京分部", BEIJING, "", ""),
    ("D08", "花桥某园区", HUAQIAO, "", ""),
    ("D09", "查不到的地址", NO_MATCH, "", ""),
    ("D10", "叶城路某实验室", FLAKY, "", ""),
    ("D11", "胜辛路某企业", ROAD_TWO_CLOSE, "", ""),
    ("D12", "临港某中心", SLOW, "", ""),
]


def write_demo_csv(path: Path, *, encoding: str = "gb18030") -> Path:
    """A small facility list as Excel on a Chinese-locale Windows saves it (GB18030)."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["id", "name_zh", "address", "lon", "lat"])
        writer.writerows(DEMO_ROWS)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slow-s", type=float, default=3.0,
                        help="how long the slow address stalls the first time")
    parser.add_argument("--demo-csv", type=Path, help="also write a demo input CSV (GB18030)")
    args = parser.parse_args(argv)
    if args.demo_csv:
        write_demo_csv(args.demo_csv)
        print(f"wrote {args.demo_csv}", flush=True)
    fake = FakeGeocoder(slow_s=args.slow_s, host=args.host, port=args.port)
    print(f"fake geocoder (amap, tianditu, nominatim) at {fake.base_url}", flush=True)
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
