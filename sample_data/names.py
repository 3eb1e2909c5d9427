"""The synthetic personal strings of the sample: names of people and companies, kanji and kana, and
addresses, made up from common family and given names and the city's town names; no real person's.
They hold the CP932-only characters real deliveries carry (髙, 﨑, ①, ㈱)."""

from __future__ import annotations

FAMILY_NAMES = (
    ("髙橋", "ﾀｶﾊｼ"), ("髙田", "ﾀｶﾀﾞ"), ("髙木", "ﾀｶｷﾞ"), ("山﨑", "ﾔﾏｻﾞｷ"), ("宮﨑", "ﾐﾔｻﾞｷ"), ("川﨑", "ｶﾜｻｷ"),
    ("神﨑", "ｶﾝｻﾞｷ"), ("吉﨑", "ﾖｼｻﾞｷ"), ("德田", "ﾄｸﾀﾞ"), ("佐藤", "ｻﾄｳ"), ("鈴木", "ｽｽﾞｷ"), ("田中", "ﾀﾅｶ"),
    ("伊藤", "ｲﾄｳ"), ("渡辺", "ﾜﾀﾅﾍﾞ"), ("渡邉", "ﾜﾀﾅﾍﾞ"), ("渡邊", "ﾜﾀﾅﾍﾞ"), ("山本", "ﾔﾏﾓﾄ"), ("中村", "ﾅｶﾑﾗ"),
    ("小林", "ｺﾊﾞﾔｼ"), ("加藤", "ｶﾄｳ"), ("吉田", "ﾖｼﾀﾞ"), ("山田", "ﾔﾏﾀﾞ"), ("佐々木", "ｻｻｷ"), ("松本", "ﾏﾂﾓﾄ"),
    ("井上", "ｲﾉｳｴ"), ("木村", "ｷﾑﾗ"), ("林", "ﾊﾔｼ"), ("齋藤", "ｻｲﾄｳ"), ("清水", "ｼﾐｽﾞ"), ("森", "ﾓﾘ"),
    ("池田", "ｲｹﾀﾞ"), ("橋本", "ﾊｼﾓﾄ"), ("石川", "ｲｼｶﾜ"), ("前田", "ﾏｴﾀﾞ"), ("藤田", "ﾌｼﾞﾀ"), ("小川", "ｵｶﾞﾜ"),
    ("岡田", "ｵｶﾀﾞ"), ("長谷川", "ﾊｾｶﾞﾜ"), ("村上", "ﾑﾗｶﾐ"), ("近藤", "ｺﾝﾄﾞｳ"), ("石井", "ｲｼｲ"), ("坂本", "ｻｶﾓﾄ"),
    ("遠藤", "ｴﾝﾄﾞｳ"), ("青木", "ｱｵｷ"), ("福田", "ﾌｸﾀﾞ"), ("三浦", "ﾐｳﾗ"), ("土屋", "ﾂﾁﾔ"), ("野口", "ﾉｸﾞﾁ"),
)
GIVEN_NAMES = (
    ("太郎", "ﾀﾛｳ"), ("一郎", "ｲﾁﾛｳ"), ("健一", "ｹﾝｲﾁ"), ("誠", "ﾏｺﾄ"), ("大輔", "ﾀﾞｲｽｹ"), ("翔太", "ｼｮｳﾀ"),
    ("拓也", "ﾀｸﾔ"), ("浩二", "ｺｳｼﾞ"), ("髙志", "ﾀｶｼ"), ("修", "ｵｻﾑ"), ("昭", "ｱｷﾗ"), ("和夫", "ｶｽﾞｵ"),
    ("次郎", "ｼﾞﾛｳ"), ("花子", "ﾊﾅｺ"), ("恵子", "ｹｲｺ"), ("陽子", "ﾖｳｺ"), ("美咲", "ﾐｻｷ"), ("愛", "ｱｲ"),
    ("由美", "ﾕﾐ"), ("直美", "ﾅｵﾐ"), ("裕子", "ﾕｳｺ"), ("さくら", "ｻｸﾗ"), ("結衣", "ﾕｲ"), ("智子", "ﾄﾓｺ"),
    ("瑠璃", "ﾙﾘ"), ("千尋", "ﾁﾋﾛ"),
)
CORPORATE_STEMS = (
    ("髙﨑製作所", "ﾀｶｻｷｾｲｻｸｼﾖ"), ("山﨑商店", "ﾔﾏｻﾞｷｼﾖｳﾃﾝ"), ("昭島精機", "ｱｷｼﾏｾｲｷ"),
    ("多摩川運輸", "ﾀﾏｶﾞﾜｳﾝﾕ"), ("拝島フーズ", "ﾊｲｼﾞﾏﾌｰｽﾞ"), ("玉川建設", "ﾀﾏｶﾞﾜｹﾝｾﾂ"), ("①企画", "ｲﾁｷｶｸ"),
    ("中神電機", "ﾅｶｶﾞﾐﾃﾞﾝｷ"), ("つつじが丘ケア", "ﾂﾂｼﾞｶﾞｵｶｹｱ"), ("宮沢食品", "ﾐﾔｻﾞﾜｼﾖｸﾋﾝ"),
    ("昭和町不動産", "ｼﾖｳﾜﾁﾖｳﾌﾄﾞｳｻﾝ"), ("東町ソフト", "ｱｽﾞﾏﾁﾖｳｿﾌﾄ"), ("大神物流", "ｵｵｶﾞﾐﾌﾞﾂﾘﾕｳ"),
    ("郷地印刷", "ｺﾞｳﾁｲﾝｻﾂ"), ("福島工業", "ﾌｸｼﾏｺｳｷﾞﾖｳ"), ("美堀園芸", "ﾐﾎﾘｴﾝｹﾞｲ"),
    ("緑町クリニック", "ﾐﾄﾞﾘﾁﾖｳｸﾘﾆﾂｸ"), ("築地鉄工", "ﾂｲｼﾞﾃﾂｺｳ"), ("德田商事", "ﾄｸﾀﾞｼﾖｳｼﾞ"), ("富士見ホーム", "ﾌｼﾞﾐﾎｰﾑ"),
)
CORPORATE_FORMS = (("㈱{}", "ｶ){}"), ("{}㈱", "{}(ｶ"), ("有限会社{}", "ﾕ){}"), ("株式会社{}", "ｶ){}"), ("㈲{}", "ﾕ){}"))
TOWNS = (
    "昭和町", "玉川町", "東町", "朝日町", "松原町", "宮沢町", "中神町", "大神町", "上川原町", "田中町",
    "拝島町", "郷地町", "福島町", "築地町", "美堀町", "緑町", "つつじが丘", "武蔵野", "もくせいの杜", "富士見町",
)
STREET_NUMBERS = ((1, 2, 3), (2, 15, 8), (3, 7, 21), (4, 1, 1), (5, 22, 10))
BUILDINGS = ("", "", "", "メゾン①　２０１", "髙﨑ハイツ１０２", "グランドール昭島①号棟")
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def _individual_names() -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"{family}　{given}", f"{family_kana} {given_kana}")
        for family, family_kana in FAMILY_NAMES
        for given, given_kana in GIVEN_NAMES
    )


def _corporate_names() -> tuple[tuple[str, str], ...]:
    return tuple(
        (form.format(stem), kana_form.format(kana))
        for stem, kana in CORPORATE_STEMS
        for form, kana_form in CORPORATE_FORMS
    )


def _addresses() -> tuple[str, ...]:
    numbers = [f"{chome}丁目{ban}番{go}号".translate(FULL_WIDTH_DIGITS) for chome, ban, go in STREET_NUMBERS]
    return tuple(
        f"東京都昭島市{town}{number}" + (f"　{building}" if building else "")
        for index, town in enumerate(TOWNS)
        for number, building in zip(numbers, BUILDINGS[index % 2 :])
    )


INDIVIDUAL_NAMES = _individual_names()
CORPORATE_NAMES = _corporate_names()
ADDRESSES = _addresses()
# Every personal string the generator can emit: kanji and kana names of people and companies,
# and addresses. A test elsewhere scans shuno's outputs (logs, exports) for them.
SAMPLE_NAMES = tuple(dict.fromkeys([name for pair in INDIVIDUAL_NAMES + CORPORATE_NAMES for name in pair] + list(ADDRESSES)))
