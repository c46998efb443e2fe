"""安澜市, the fictional city of the demo: its units and their adult population.

The tree (names, kinds, codes) is fixed, written out below so that it reads like a
real 行政区划; the random generator only draws the population of every town. Codes
follow the pattern of the 统计用区划代码: a 6-digit city/county code, 3 more digits
for a 乡镇 (001–099 街道, 101–199 镇, 201–299 乡) and 3 more for a 村/社区
(001–199 社区居委会, 201–399 村委会). Departments are numbered x901, x902, … under
the city or county they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CITY_CODE = "619900"
CITY_NAME = "安澜市"

SEXES = ("M", "F")
AGE_GROUPS = ("18-29", "30-44", "45-59", "60+")

# county code, name, character, [(town name, [village/community names])]
COUNTIES: list[tuple[str, str, str, list[tuple[str, list[str]]]]] = [
    ("619902", "澜江区", "urban", [
        ("滨江街道", ["江岸社区", "望江楼社区", "码头社区", "锦绣社区"]),
        ("文昌街道", ["文庙社区", "书院社区", "学府社区"]),
        ("鼓楼街道", ["鼓楼社区", "钟楼社区", "南大街社区", "北关社区"]),
        ("新华街道", ["新华路社区", "人民路社区", "桂花园社区"]),
        ("东关街道", ["东关社区", "火车站社区", "纺织厂社区"]),
        ("南湖街道", ["南湖社区", "荷花池社区", "玉带桥社区", "翠苑社区"]),
        ("白沙镇", ["白沙社区", "沙湾村", "渡口村"]),
    ]),
    ("619903", "云溪区", "suburban", [
        ("云溪街道", ["云溪社区", "高新社区", "软件园社区"]),
        ("金山街道", ["金山社区", "梧桐社区", "长塘社区"]),
        ("临港街道", ["临港社区", "物流园社区", "海棠社区"]),
        ("龙泉镇", ["龙泉社区", "桃花村", "柏树村", "石堰村"]),
        ("清水镇", ["清水社区", "大湾村", "枫香村"]),
        ("长乐镇", ["长乐社区", "新桥村", "塘坊村", "油房村"]),
    ]),
    ("619921", "青石县", "rural", [
        ("城关镇", ["城东社区", "城西社区", "石桥村", "河坝村"]),
        ("石门镇", ["石门社区", "观音岩村", "凉水井村"]),
        ("马坪镇", ["马坪社区", "红岩村", "回龙村", "向阳村"]),
        ("双河镇", ["双河社区", "岔河村", "水口村"]),
        ("桃源镇", ["桃源社区", "梨树村", "竹林村"]),
        ("杨柳乡", ["杨柳村", "坪上村"]),
        ("云雾乡", ["云雾村", "茶园村", "金竹村"]),
        ("铁炉乡", ["铁炉村", "庙坝村"]),
    ]),
    ("619922", "凤岭县", "rural", [
        ("凤城镇", ["凤鸣社区", "凤翔社区", "沙坝村", "黄桷村"]),
        ("高桥镇", ["高桥社区", "松林村", "新场村"]),
        ("安平镇", ["安平社区", "青杠村", "大坪村", "三溪村"]),
        ("柳溪镇", ["柳溪社区", "岩口村", "白果村"]),
        ("河口镇", ["河口社区", "渔洞村", "龙潭村"]),
        ("大山乡", ["大山村", "草坪村"]),
        ("青龙乡", ["青龙村", "板桥村", "核桃村"]),
    ]),
]
COUNTY_SEATS = {"城关镇", "凤城镇"}  # the county towns of the two 县: large and fairly young

CITY_DEPARTMENTS = [
    "安澜市公安局",
    "安澜市中级人民法院",
    "安澜市人民检察院",
    "安澜市司法局",
    "安澜市信访局",
    "安澜市市场监督管理局",
    "安澜市人力资源和社会保障局",
    "安澜市城市管理综合执法局",
    "安澜市教育局",
    "安澜市卫生健康委员会",
    "安澜市住房和城乡建设局",
    "安澜市交通运输局",
]
# Every county has its 政法 departments and its 信访局.
COUNTY_DEPARTMENTS = {
    "619902": ["安澜市公安局澜江分局", "澜江区人民法院", "澜江区人民检察院", "澜江区司法局", "澜江区信访局"],
    "619903": ["安澜市公安局云溪分局", "云溪区人民法院", "云溪区人民检察院", "云溪区司法局", "云溪区信访局"],
    "619921": ["青石县公安局", "青石县人民法院", "青石县人民检察院", "青石县司法局", "青石县信访局"],
    "619922": ["凤岭县公安局", "凤岭县人民法院", "凤岭县人民检察院", "凤岭县司法局", "凤岭县信访局"],
}
# The demo began with the first 8 市直部门 and the departments of 澜江区 and 青石县. The random draws
# (demo.model) go through the departments in the order of City.departments, so the ones added later
# come after those first ones there: adding them left every earlier unit's levels and answers as they
# were. A real city ranks far more 市直部门; twelve give the demo a peer group of departments with a
# bottom 3 that is a quarter of the group, not three eighths.
FIRST_CITY_DEPARTMENTS = 8
FIRST_COUNTIES_WITH_DEPARTMENTS = ("619902", "619921")

# Town character → (adults low, adults high, mean age shares 18-29/30-44/45-59/60+, share of men).
# Rural towns are older (the young work in the cities), urban 街道 younger.
PROFILES: dict[str, tuple[int, int, tuple[float, ...], float]] = {
    "street": (30_000, 80_000, (0.22, 0.31, 0.26, 0.21), 0.494),
    "seat": (40_000, 75_000, (0.18, 0.28, 0.28, 0.26), 0.502),
    "suburban": (15_000, 35_000, (0.16, 0.25, 0.29, 0.30), 0.508),
    "rural": (12_000, 32_000, (0.12, 0.21, 0.30, 0.37), 0.515),
    "remote": (8_000, 14_000, (0.10, 0.18, 0.30, 0.42), 0.520),
}


@dataclass
class Village:
    code: str
    name: str
    town: Town
    remote: bool = False  # hard to reach: chronically short of forms


@dataclass
class Town:
    code: str
    name: str
    county_code: str
    profile: str
    population: dict[str, dict[str, int]]  # dimension → category → adults
    villages: list[Village] = field(default_factory=list)

    def share(self, dimension: str) -> np.ndarray:
        categories = SEXES if dimension == "sex" else AGE_GROUPS
        counts = np.array([self.population[dimension][c] for c in categories], dtype=float)
        return counts / counts.sum()


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    parent_code: str


@dataclass
class City:
    code: str
    name: str
    counties: list[tuple[str, str]]  # (code, name)
    towns: list[Town]
    departments: list[Department]

    @property
    def villages(self) -> list[Village]:
        return [v for t in self.towns for v in t.villages]

    def unit_rows(self) -> list[tuple[str, str, str, str]]:
        """units.csv rows (code, name, kind, parent_code), parents first."""
        rows = [(self.code, self.name, "city", "")]
        rows += [(code, name, "county", self.code) for code, name in self.counties]
        for town in self.towns:
            rows.append((town.code, town.name, "town", town.county_code))
            rows += [(v.code, v.name, "village", town.code) for v in town.villages]
        rows += [(d.code, d.name, "department", d.parent_code) for d in self.departments]
        return rows

    def population_rows(self) -> list[tuple[str, str, str, int]]:
        """population.csv rows (unit_code, dimension, category, count): sex and age_group for every town."""
        rows = []
        for town in self.towns:
            for dimension, categories in (("sex", SEXES), ("age_group", AGE_GROUPS)):
                rows += [(town.code, dimension, c, town.population[dimension][c]) for c in categories]
        return rows


def split(total: int, shares: np.ndarray) -> list[int]:
    """Integers proportional to `shares` that add up to `total` exactly (largest remainder)."""
    raw = total * shares / shares.sum()
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return [int(c) for c in counts]


def _profile(county_character: str, town_name: str) -> str:
    if town_name.endswith("街道"):
        return "street"
    if town_name in COUNTY_SEATS:
        return "seat"
    if town_name.endswith("乡"):
        return "remote"
    return "suburban" if county_character in ("urban", "suburban") else "rural"


def _population(rng: np.random.Generator, profile: str) -> dict[str, dict[str, int]]:
    low, high, age_shares, men = PROFILES[profile]
    total = int(round(rng.uniform(low, high), -1))
    ages = rng.dirichlet(np.array(age_shares) * 300)
    men_share = float(np.clip(rng.normal(men, 0.008), 0.47, 0.54))
    return {
        "sex": dict(zip(SEXES, split(total, np.array([men_share, 1 - men_share])))),
        "age_group": dict(zip(AGE_GROUPS, split(total, ages))),
    }


def build_city(rng: np.random.Generator) -> City:
    """The whole tree, with every town's adult population by sex and by age group."""
    counties, towns, departments = [], [], []
    for county_code, county_name, character, town_specs in COUNTIES:
        counties.append((county_code, county_name))
        serial = {"街道": 1, "镇": 101, "乡": 201}
        for town_name, village_names in town_specs:
            suffix = "街道" if town_name.endswith("街道") else town_name[-1]
            code = f"{county_code}{serial[suffix]:03d}"
            serial[suffix] += 1
            profile = _profile(character, town_name)
            town = Town(code, town_name, county_code, profile, _population(rng, profile))
            community, village = 1, 201
            for name in village_names:
                if name.endswith("社区"):
                    v_code, community = f"{code}{community:03d}", community + 1
                else:
                    v_code, village = f"{code}{village:03d}", village + 1
                town.villages.append(Village(v_code, name, town))
            towns.append(town)
    # A few villages far up the valleys that the survey teams rarely reach.
    far = [v for t in towns if t.profile in ("rural", "remote") for v in t.villages if v.name.endswith("村")]
    for i in rng.choice(len(far), size=5, replace=False):
        far[i].remote = True
    city_departments = [Department(f"{CITY_CODE}{901 + i}", name, CITY_CODE) for i, name in enumerate(CITY_DEPARTMENTS)]
    county_departments = {
        county_code: [Department(f"{county_code}{901 + i}", name, county_code) for i, name in enumerate(names)]
        for county_code, names in COUNTY_DEPARTMENTS.items()
    }
    # The first ones in their first order, then those added later (see FIRST_CITY_DEPARTMENTS).
    departments += city_departments[:FIRST_CITY_DEPARTMENTS]
    departments += [d for code in FIRST_COUNTIES_WITH_DEPARTMENTS for d in county_departments[code]]
    departments += city_departments[FIRST_CITY_DEPARTMENTS:]
    departments += [d for code, ds in county_departments.items() if code not in FIRST_COUNTIES_WITH_DEPARTMENTS for d in ds]
    return City(CITY_CODE, CITY_NAME, counties, towns, departments)
