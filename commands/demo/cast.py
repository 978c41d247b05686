"""Who and what the demo company's story is about: customers in the Yangtze delta with their
addresses and sites, the engineers, drivers and desk staff, and the purifiers they install."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    phone: str
    address: str
    lat: float
    lng: float
    language: str = "zh"

    @property
    def site(self) -> dict[str, float]:
        return {"lat": self.lat, "lng": self.lng}

    def near(self, metres_north: float = 20.0) -> dict[str, float]:
        """A check-in this many metres north of the site (a degree of latitude is ~111 km)."""
        return {"lat": self.lat + metres_north / 111_000, "lng": self.lng}


CUSTOMERS = [
    Customer("C10001", "王建国", "13816620417", "上海市浦东新区张江路 88 弄 3 号 502 室", 31.2036, 121.5903),
    Customer("C10002", "李秀英", "13901873352", "上海市徐汇区漕溪北路 201 号 1204 室", 31.1912, 121.4365),
    Customer("C10003", "张伟", "13764218890", "上海市闵行区七莘路 1885 弄 12 号 301 室", 31.1287, 121.3617),
    Customer("C10004", "刘洋", "15021947736", "上海市杨浦区国权路 39 号 6 栋 802 室", 31.2990, 121.5089),
    Customer("C10005", "陈静", "18602115548", "上海市长宁区虹桥路 1438 号 17 楼 B 座", 31.1974, 121.4036),
    Customer("C10006", "杨磊", "13585522109", "上海市普陀区真北路 2500 弄 5 号 1101 室", 31.2412, 121.3987),
    Customer("C10007", "赵敏", "13917706624", "上海市静安区江宁路 1158 号 9 楼", 31.2386, 121.4478),
    Customer("C10008", "黄志强", "15800419273", "上海市宝山区牡丹江路 1325 号 403 室", 31.4044, 121.4887),
    Customer("C10009", "周丽", "13661987045", "苏州市工业园区星湖街 328 号 2 幢 1502 室", 31.2655, 120.7394),
    Customer("C10010", "吴海峰", "13862153380", "苏州市姑苏区人民路 1588 号 6 单元 201 室", 31.3101, 120.6133),
    Customer("C10011", "徐芳", "15995678212", "杭州市西湖区文三路 478 号 11 幢 603 室", 30.2783, 120.1359),
    Customer("C10012", "孙立新", "13967103318", "杭州市滨江区江南大道 3850 号 1 单元 1702 室", 30.2086, 120.2101),
    Customer("C10013", "马文涛", "18917336650", "上海市松江区文诚路 800 弄 21 号 102 室", 31.0296, 121.2219),
    Customer("C10014", "朱晓燕", "13482291763", "上海市嘉定区城中路 138 号 7 楼", 31.3838, 121.2503),
    Customer("C10015", "胡强", "13701920584", "上海市青浦区公园路 99 弄 8 号 901 室", 31.1508, 121.1244),
    Customer("C10016", "郭美玲", "15900735126", "上海市黄浦区西藏南路 1200 号 15 楼 C 座", 31.2094, 121.4851, "en"),
    Customer("C10017", "林东", "13818455907", "上海市虹口区四川北路 1688 号 2 号楼 1203 室", 31.2631, 121.4837),
    Customer("C10018", "何佳", "15601889432", "上海市浦东新区世纪大道 1600 弄 2 号 2301 室", 31.2271, 121.5427),
]

# Engineers by principal name (their tokens act as them); the last works only a few jobs a month.
ENGINEERS = ["li.wei", "wang.qiang", "zhao.lei", "chen.gang"]
DRIVERS = ["刘师傅 沪A·D3217", "孙师傅 沪B·F6082", "高师傅 苏E·K1935"]
WAREHOUSE = {"lat": 31.1531, "lng": 121.8047}  # the regional warehouse near Pudong airport

FILTERS = ["PP 棉滤芯", "前置活性炭滤芯", "RO 反渗透膜", "后置活性炭滤芯"]
PURIFIER: dict[str, Any] = {"sku": "RO-600", "description": "反渗透净水器 600G 厨下式", "quantity": 1,
                            "needs_installation": True, "installation_fee": "150", "consumables": FILTERS,
                            "consumable_interval_days": 90}
BIG_PURIFIER: dict[str, Any] = {**PURIFIER, "sku": "RO-1000", "description": "反渗透净水器 1000G 大通量",
                                "installation_fee": "200"}
SOFTENER: dict[str, Any] = {"sku": "WS-20", "description": "全屋中央软水机 2 吨/时", "quantity": 1,
                            "needs_installation": True, "installation_fee": "300", "consumables": ["软化树脂"],
                            "consumable_interval_days": 180}
PREFILTER: dict[str, Any] = {"sku": "PF-40", "description": "前置过滤器 40 微米", "quantity": 1}

# Back-office staff and the roles of the tokens the demo issues for them (docs/operations.md).
STAFF = {
    "dispatcher": ("xu.dispatch", ["dispatcher"]),
    "operator": ("tang.desk", ["operator"]),
    "finance": ("qian.finance", ["finance"]),
    "approver_sales": ("shen.sales", ["approver:sales"]),
    "approver_technical": ("lu.technical", ["approver:technical"]),
    "approver_finance": ("qian.finance", ["approver:finance"]),
    "approver_logistics": ("fang.logistics", ["approver:logistics"]),
    "auditor": ("jiang.audit", ["auditor"]),
}
