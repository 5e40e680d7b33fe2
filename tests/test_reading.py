"""Reading a question: relative years as words, topic shifts, scope, English (HashEmbedder stands in for the model)."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.answering import AnswerType
from assistant.index import Index
from assistant.pipeline import PolicyQA
from assistant.reading import Language, is_english, relative_offsets
from assistant.retrieval import normalize_query

from .conftest import HASH_SETTINGS, NOTICE, ROOT, HashEmbedder


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    emb = HashEmbedder()
    return PolicyQA(Index.build([NOTICE], emb), emb, settings=HASH_SETTINGS)


@pytest.mark.parametrize(
    "text,words",
    [
        ("今年新增多少学位？", ["今年"]),
        ("教师基本年薪有多少？", []),  # 基本|年薪: no 本年
        ("过去年年都有比赛，今年还办吗？", ["今年"]),  # 过去|年年: no 去年
        ("明年呢？", ["明年"]),
        ("本年度有什么安排？", ["本年度"]),  # the longer word wins over 本年
        ("说明年龄要求", []),
    ],
)
def test_relative_time_words_are_words_not_substrings(text: str, words: list[str]):
    assert [r.word for r, _ in relative_offsets(text)] == words


def test_relative_years_resolve_against_the_answering_documents_year(qa: PolicyQA):
    r = qa.read("教师基本年薪有多少？")
    assert r.resolved(2020) == "教师基本年薪有多少?" and r.scope.relative == ()
    r = qa.read("过去年年都有比赛，今年还办吗？")
    assert r.resolved(2020) == "过去年年都有比赛,2020年还办吗?"
    r = qa.read("明年计划建几所学校？")
    assert r.scope.years_for(2020) == frozenset({2021}) and r.scope.years_for(None) == frozenset()


def test_a_question_naming_its_own_topic_starts_fresh(qa: PolicyQA):
    r = qa.read("今年教师培训有什么安排？", ["外地户口，孩子能在东丽上小学吗？"])
    assert not r.used_history and r.standalone == "今年教师培训有什么安排?"
    answer = qa.ask("今年教师培训有什么安排？", ["外地户口，孩子能在东丽上小学吗？"])
    assert not answer.used_history and answer.citations[0].point == 19


@pytest.mark.parametrize(
    "question,last",
    [("今年给老师涨工资了吗？", "老师能不能在外面办补习班？"), ("区里有没有给农村学校的老师发补贴？", "特殊教育的孩子有什么政策？")],
)
def test_a_topic_no_text_names_is_still_a_topic_of_its_own(qa: PolicyQA, question: str, last: str):
    # 涨工资 and 补贴 are in no unit; glued to the last turn the question was answered from the last turn's point.
    r = qa.read(question, [last])
    assert not r.used_history and r.standalone == normalize_query(question)


@pytest.mark.parametrize("history", [["学生每天锻炼多长时间？"], ["学生每天锻炼多长时间？", "体育课呢？"]])
def test_a_topic_a_time_word_qualifies_is_a_topic_of_its_own(qa: PolicyQA, history: list[str]):
    # jieba tags 课后 a time word, which split 课后服务 out of the question's topics: it was read as 体育课…课后服务到几点.
    r = qa.read("课后服务到几点？", history)
    assert not r.used_history and r.standalone == "课后服务到几点?"
    # A time word before a topic the texts hold whole still leaves that topic (今年 + 教师培训).
    assert not qa.read("今年教师培训有什么安排？", history).used_history
    assert qa.read("几点结束？", ["课后服务有什么要求？"]).used_history


@pytest.mark.parametrize(
    "question",
    ["获奖的有多少奖金？", "具体地址在哪？", "报名网址是什么？", "学费是多少？", "在哪个场馆比啊"],
)
def test_a_noun_asked_about_the_last_turns_topic_still_borrows(qa: PolicyQA, question: str):
    # 奖金, 地址, 网址 are in no unit either, but next to the question word they ask about the contest, not a new topic.
    r = qa.read(question, ["区里的学生劳动能手比赛是怎么回事？"])
    assert r.used_history and "劳动能手比赛" in r.standalone


@pytest.mark.parametrize("message", ["👍", "谢谢", "好的", "🙏🙏"])
def test_an_emoji_or_a_thank_you_never_glues_onto_the_last_turn(qa: PolicyQA, message: str):
    r = qa.read(message, ["外地户口，孩子能在东丽上小学吗？" * 5])
    assert not r.used_history and "外地" not in r.standalone


@pytest.mark.parametrize("question", ["要带啥材料", "咋报名", "找谁"])
def test_a_short_question_in_spoken_words_is_a_question_that_borrows(qa: PolicyQA, question: str):
    # 啥, 咋, 谁 and no question mark: it was taken for a message that asks nothing (好的, 👍) and read alone.
    r = qa.read(question, ["孩子明年上一年级，怎么报名？"])
    assert r.used_history and "一年级" in r.standalone


def test_a_follow_up_that_cannot_stand_alone_borrows(qa: PolicyQA):
    r = qa.read("那新来的老师呢？", ["今年教师培训有什么安排？"])
    assert r.used_history and "教师培训" in r.standalone and "新来的老师" in r.standalone
    r = qa.read("还有呢？", ["今年教师培训有什么安排？"])
    assert r.used_history and "教师培训" in r.standalone
    r = qa.read("什么时候办？", ["听说区里要搞学生劳动能手比赛？"])
    assert r.used_history and r.facts[0].kind is AnswerType.DATE


@pytest.mark.parametrize(
    "question,field,value",
    [
        ("南开区也是电脑摇号吗？", "places", ("南开区",)),
        ("我们家住滨海新区，听说东丽是摇号的。我们滨海那边也一样吗？", "places", ("滨海新区",)),
        ("我们以前住南开区，现在搬到东丽了，孩子能在这边上学吗？", "places", ()),  # the story, not the question
        ("南开区的老师去乡村学校交流，每个月补贴是多少？", "places", ("南开区",)),  # the place owns the question's subject
        ("听说2021年的学位要翻一番，是真的吗？", "years", {2021}),  # a bare 是真的吗 asks about the claim before it
        ("国家文件要求每年交流轮岗的教师比例是多少？", "national", True),
        ("东丽区哪所小学最好？", "opinion", True),  # a judgement no policy text gives
        ("孩子读职教中心，将来就业前景好不好？", "opinion", True),
        ("Is it worth sending my kid to the free arts class?", "opinion", True),
        ("报名最好带齐哪些材料？", "opinion", False),  # 最好 as "had better"
        ("那隔壁河西区呢，今年建几所小学？", "places", ("河西区",)),  # the district a 呢 clause is about
        ("特级教师工作室是哪几位特级教师领衔的？", "person", True),
        ("2018年建了几所小学？", "years", {2018}),
        ("招生工作谁分管？", "person", True),
        ("国家规定每天锻炼多久？", "national", True),
        ("东丽区在创建全国文明城区吗？", "national", False),
        ("Does Beichen District also add preschool places?", "places", ("Beichen District",)),
        ("How many kindergartens is Hebei District renovating?", "places", ("河北区",)),  # 河北 is in the text, 河北区 is not
        ("孩子被同学欺负了。我想知道区里对校园欺凌有什么措施？", "places", ()),  # 知道 is a verb, not a district
        ("19年近视率降了多少", "years", {2019}),  # the short form at a clause start …
        ("问下区里要求学生体质健康达标要到百分之多少？", "places", ()),  # 区里 is the district asked about, not a place
        ("他已经工作了15年，今年能评上吗？", "years", set()),  # … not a duration
        ("老大是2019年上的幼儿园。那一年新增了多少学位？", "years", {2019}),  # 那一年 points back
        ("我们家住滨海新区，那边今年是不是也建5所幼儿园", "places", ("滨海新区",)),  # 那边 points back to the story's place
        ("能帮我写一份班主任工作总结吗？", "task", True),  # a task, not a question about the text
        ("can u recommend a good english tutor near dongli", "task", True),
        ("区里推荐的课后服务有哪些内容？", "task", False),
        ("东丽教育局长 谁", "person", True),
        ("哪个局领导包我们学校啊", "person", True),  # 哪个 as well as 哪位 asks for a leader by name
        ("领导小组的组长是哪位副区长？", "person", True),
        ("招生领导小组组长是谁？叫什么名字？", "person", True),  # the head of a working group, by name
        ("领导小组的组长负责哪些工作？", "person", False),
        ("教育局现在一把手是谁啊", "person", True),
        ("我想找负责校园安全的科长，他叫什么名字？", "person", True),  # the role, then 他 asked about
        ("孩子今天不坐校车了，需要跟哪个老师说？", "person", False),  # whom to tell: a role the text names, not a person
        ("教育部今年出了什么新政策？", "national", True),
        ("1+X证书 教育部哪年开始试点的", "national", True),  # the ministry asked about, in any words
        ("教育部门能怎么处罚它？", "national", False),  # the local education authority
        ("学校这样分实验班合法吗？", "national", True),  # what the law says
        ("国家法律对老师打学生是怎么规定的", "national", True),
        ("这个法律对学校有用吗", "national", False),  # no question about what the law requires
        ("我家孩子对法律挺感兴趣，学校有没有法律知识比赛？", "national", False),
        # a clause that only frames the question pins it down: the standard, the year, the document asked about
        ("按照教育部的规定，新任校长的任职培训不得少于多少学时？", "national", True),
        ("到2023年，全区近视率要再降多少个百分点？", "years", {2023}),
        ("海澄市南汀区2022年的教师培训方案里，新教师集中培训安排了几天？", "places", ("南汀区",)),
        ("孩子明年升小学，幼儿园会不会衔接？", "relative", ()),  # a story's clause is no frame
    ],
)
def test_scope(qa: PolicyQA, question: str, field: str, value):
    assert dataclasses.asdict(qa.read(question).scope)[field] == value


def test_english_questions_are_read_through_the_glossary(qa: PolicyQA):
    assert is_english("How many new kindergartens will Dongli build in 2020?") and not is_english("2020年新建几所幼儿园？")
    assert qa.reader.translator.translate("How many new kindergartens will Dongli build in 2020?") == "多少 建设 幼儿园 东丽 2020年？"  # new kindergartens are built
    r = qa.read("How many new kindergartens will Dongli build in 2020?")
    assert r.language is Language.ENGLISH and r.facts[0].kind is AnswerType.NUMBER and r.years == frozenset({2020})
    assert r.dense_text.startswith("How many")


def test_a_short_year_is_written_out_for_retrieval(qa: PolicyQA):
    assert qa.read("20年区里对近视率有啥要求没").standalone.startswith("2020年区里")
    assert "15年" in qa.read("教了15年书，今年培训有什么安排？").standalone


@pytest.mark.parametrize(
    "question,counted",
    [("今年计划招多少名新教师？", "教师"), ("今年要建几所学校？", ""), ("孩子几岁必须上学？", ""), ("新增多少个名额？", "")],
)
def test_a_counted_noun_is_kept_only_if_the_documents_name_that_kind(qa: PolicyQA, question: str, counted: str):
    assert qa.read(question).facts[0].counted == counted


def test_a_reading_is_frozen_and_describes_itself(qa: PolicyQA):
    r = qa.read("今年新增多少学前教育学位？")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.standalone = "x"  # type: ignore[misc]
    assert "asks number" in r.describe() and "relative [0]" in r.describe()


@pytest.mark.model
def test_the_chat_example_with_the_real_model(real_qa):
    answer = real_qa.ask("今年教师培训有什么安排？", ["外地户口，孩子能在东丽上小学吗？"])
    assert not answer.used_history and answer.citations[0].point == 19
    answer = real_qa.ask("那新来的老师呢？", ["今年教师培训有什么安排？"])
    assert answer.used_history and answer.citations[0].point == 19


@pytest.mark.parametrize(
    "question, places",
    [
        ("南开区也是电脑摇号吗？", ("南开区",)),
        ("海澄市临澜区今年公办小学网上报名是什么时候？", ("临澜区",)),  # jieba cuts it 临/澜区
        ("临澜区的校车管理办法里对司机年龄是怎么规定的？", ("临澜区",)),
        ("今年区级骨干教师评多少名？", ()),
        ("今年全区一共新增多少学位？", ()),
        ("我们学区里的学校招几个班？", ()),
        ("小区门口的幼儿园收费多少？", ()),
        ("这个区的校车归谁管？", ()),
        ("方案要在什么时间之前报区教育局备案？", ()),  # 之前/报 + 区教育局: the bureau one reports to, no 前报区
        ("我想直接找区教育局负责校园安全的科长", ()),
    ],
)
def test_places_the_dictionary_does_not_know_are_still_read(qa: PolicyQA, question: str, places: tuple[str, ...]):
    assert qa.read(question).scope.places == places


def test_another_district_is_declined_with_a_reason(qa: PolicyQA):
    answer = qa.ask("临澜区新建几所小学？")
    assert answer.abstained and "临澜区" in answer.answer and answer.coverage.value == "none"


def test_a_place_the_text_names_elsewhere_must_be_in_the_answer(qa: PolicyQA):
    # The notice names 北京 once, for 京津冀 exchanges: that makes no other quote an answer about Beijing.
    reading = qa.read("北京市今年幼升小政策有什么变化？")
    retrieval = qa.retriever.search(reading)
    doc = qa.index.docs_by_id[retrieval.hits[0].doc_id]
    enrolment = next(h for h in retrieval.ranking if "北京" not in qa.index.units[h.unit_key][1].text)
    exchange = next(h for h in retrieval.ranking if "北京" in qa.index.units[h.unit_key][1].text)
    assert "北京市" in qa._place_note(reading, [qa.builder.select(retrieval, enrolment, reading.facts)], doc)
    assert qa._place_note(reading, [qa.builder.select(retrieval, exchange, reading.facts)], doc) == ""
    assert qa.ask("上海市今年幼升小政策有什么变化？").abstained  # named nowhere: declined as before
    hebei = qa.read("How many kindergartens is Hebei District renovating?")  # the notice's 河北 is the province
    assert "河北区" in qa._place_note(hebei, [qa.builder.select(retrieval, enrolment, hebei.facts)], doc)


def test_a_judgement_is_declined_with_a_reason_and_the_related_points(qa: PolicyQA):
    answer = qa.ask("东丽区新建的小学哪所最好？")
    assert answer.abstained and "不评价" in answer.answer and answer.citations  # the closest points are still listed


@pytest.mark.parametrize(
    "question, phrase",
    [
        ("东丽区今年幼儿园学位够不够？", "学位够不够"),
        ("东丽这边入园难不难啊？区里今年能多出来多少个幼儿园学位？", "入园难不难"),
        ("学校的老师够用吗", "老师够不够用"),
        ("现在这些够用吗？", "够不够用"),  # no noun or verb stands next to it: the judgement alone
        ("我只有大专学历，够不够格报名？", None),  # 够格 asks whether one qualifies, which a text does say
        ("东丽区哪所小学最好？", None),  # an opinion is declined, not answered with a note
    ],
)
def test_a_judgement_asked_beside_the_facts_is_read_with_the_word_it_judges(qa: PolicyQA, question: str, phrase: str | None):
    judged = qa.read(question).judged
    assert (judged.phrase if judged else None) == phrase


def test_a_judgement_the_text_leaves_open_is_said_before_the_figure(qa: PolicyQA):
    answer = qa.ask("东丽区今年幼儿园学位够不够？")
    assert not answer.abstained and "1530" in answer.summary and answer.summary.endswith("文件没有说明学位够不够。")
    assert answer.answer.startswith(answer.summary)  # said in the answer itself, not only in the JSON
    plain = qa.ask("东丽区今年新增多少幼儿园学位？")
    assert "没有说明" not in plain.summary and not plain.answer.startswith(plain.summary)
    moved_on = qa.read("那老师招聘呢？", ["东丽区今年幼儿园学位够不够？"])  # a judgement is the asker's own, not the last turn's
    assert moved_on.used_history and moved_on.judged is None


def test_a_judgement_leads_with_a_figure_its_word_is_given_by():
    from assistant.answering import lead_clause

    quote = "2020年新增学前教育学位1530个。实施11所幼儿园提升改造工程。规范发展民办幼儿园，稳步实施分类管理改革。"
    # 学位够不够: the clause that gives the 学位 a figure leads, though 幼儿园 (also asked) is the longer word elsewhere.
    assert lead_clause(quote, (), ("幼儿园", "学位"), focus="学位").startswith("2020年新增学前教育学位1530个")
    # 上幼儿园难不难…名额: 规范发展民办幼儿园 names the word judged but gives no figure; the words asked (学位) lead.
    unfigured = "2020年新增学前教育学位1530个。规范发展民办幼儿园，稳步实施分类管理改革。"
    assert lead_clause(unfigured, (), ("幼儿", "幼儿园", "学前", "学前教育", "学位"), focus="幼儿园").startswith("2020年新增")


@pytest.mark.parametrize(
    "question, schools",
    [
        ("望潮路小学课后服务具体开了哪些兴趣班？", ("望潮路小学",)),
        ("请问望潮路小学几点放学？", ("望潮路小学",)),
        ("孩子在街道幼儿园能待到几点？", ()),
        ("公办小学网上报名是什么时候？", ()),
    ],
)
def test_schools_named_by_road_or_number_are_read(qa: PolicyQA, question: str, schools: tuple[str, ...]):
    assert qa.read(question).scope.schools == schools


@pytest.mark.parametrize(
    "question, officials",
    [
        ("区教育局基础教育科的刘建华科长对今年校服征订提了什么要求？", (("刘建华", "科长"),)),
        ("青岚区教育局李卫东副局长对今年培训机构整治提了哪些具体要求？", (("李卫东", "副局长"),)),  # cut 李/卫东
        ("班主任李老师说今年要交资料费，是真的吗？", ()),  # a teacher is no official
        ("幼儿园园长是谁来聘？", ()),  # a title with no name
    ],
)
def test_officials_named_by_name_and_title_are_read(qa: PolicyQA, question: str, officials: tuple[tuple[str, str], ...]):
    assert qa.read(question).scope.officials == officials


def test_an_official_the_text_never_names_is_declined(qa: PolicyQA):
    answer = qa.ask("区教育局刘建华科长对今年新建幼儿园提了什么要求？")
    assert answer.abstained and "刘建华科长" in answer.answer


def test_a_school_the_text_never_names_is_declined(qa: PolicyQA):
    answer = qa.ask("望潮路小学今年新建几所幼儿园？")
    assert answer.abstained and "望潮路小学" in answer.answer


@pytest.mark.parametrize(
    "question,named",
    [
        ("《教师法》对老师的平均工资水平有什么要求？", ("teachers",)),  # three characters, but put in 《》
        ("按《民办教育促进法》，民办学校要换举办者需要走什么程序？", ("promotion",)),
        ("民办教育促进法对举办者有什么要求？", ("promotion",)),  # four or more: named without 《》 too
        ("教师法律意识怎么培养？", ()),  # 教师法 unquoted is no title: 教师|法律
    ],
)
def test_a_question_names_a_document_by_its_short_title(question: str, named: tuple[str, ...]):
    from assistant.reading import _named_documents

    titles = {"teachers": "教师法", "promotion": "民办教育促进法", "notice": "天津市东丽区2020年教育工作要点"}
    assert _named_documents(titles, question) == named


@pytest.mark.parametrize(
    "question,named",
    [
        ("这个招聘方案是依据哪些文件定的？", ("hiring",)),  # a word of the title before its kind of document
        ("幼儿园招生方案里摇号是哪天？", ("kindergarten",)),  # the longest word that titles of the kind hold
        ("招生方案规定的报名材料有哪些？", ("kindergarten", "admission")),  # both plans hold 招生: both are named
        ("校车办法对司机有什么要求？", ("bus",)),
        ("报名方式是什么？", ()),  # 方式 is no kind of document
        ("这个方案什么时候开始施行？", ()),  # a kind alone names none
        ("工作要点里教师招聘有什么安排？", ()),  # no indexed title is a 要点
    ],
)
def test_a_question_names_a_document_by_a_word_of_its_title_and_its_kind(question: str, named: tuple[str, ...]):
    from assistant.reading import _named_documents

    titles = {
        "hiring": "青岚区2022年公开招聘中小学及幼儿园教师实施方案",
        "kindergarten": "青岚区2022年幼儿园招生入园工作实施方案",
        "admission": "青岚区2021年义务教育招生入学工作实施方案",
        "bus": "青岚区校车安全管理办法",
    }
    assert _named_documents(titles, question) == named


def test_a_word_that_sets_one_document_apart_names_a_topic(tmp_path):
    # In a library of documents, 校车 is in every article of the 校车 measures, so far more than the few units a topic
    # word of one notice holds: 校车归哪个部门管 after a fee question was read as 住宿费…校车 and answered about fees.
    data = ROOT / "tests" / "data"
    docs = [data / "fiction" / "qinglan-school-bus-management-measures.txt", *sorted((data / "fiction_extra").glob("*.txt"))]
    emb = HashEmbedder()
    library = PolicyQA(Index.build(docs, emb), emb, settings=HASH_SETTINGS)
    assert {"校车", "资助", "轮岗"} <= library.rewriter._title_terms and "教育局" not in library.rewriter._title_terms
    assert not library.read("校车归哪个部门管？", ["民办幼儿园住宿费有上限吗？"]).used_history
    assert library.read("那要带什么材料？", ["家庭经济困难学生资助怎么申请？"]).used_history  # no topic of its own
    alone = PolicyQA(Index.build([NOTICE], emb), emb, settings=HASH_SETTINGS)
    assert alone.rewriter._title_terms == frozenset()  # one document's title sets nothing apart


@pytest.mark.parametrize(
    "history, question, standalone",
    [
        # the last turn was itself a follow-up: it is read with its own history first (it had been 那中学呢 alone)
        (["今年计划建几所小学？", "那幼儿园呢？"], "那中学呢？", "今年计划建几所中学?"),
        # a 谢谢 in between is passed over (it had been 谢谢具体什么时候)
        (["社区教育展示周今年办吗？", "谢谢"], "具体什么时候？", "社区教育展示周今年办具体什么时候?"),
    ],
)
def test_a_follow_up_reads_the_last_question_as_it_was_understood(qa: PolicyQA, history: list[str], question: str, standalone: str):
    reading = qa.read(question, history)
    assert reading.used_history and reading.standalone == standalone


@pytest.fixture(scope="module")
def library() -> PolicyQA:
    """Several documents of one district: its common words (普惠园, 认定, 交流) are each in many units."""
    emb = HashEmbedder()
    data = ROOT / "tests" / "data" / "fiction_extra"
    docs = [data / f"{name}.txt" for name in ("qinglan-2021-inclusive-kindergarten-support-rules", "qinglan-private-kindergarten-fee-measures", "qinglan-teacher-exchange-rotation-measures")]
    return PolicyQA(Index.build(docs, emb), emb, settings=HASH_SETTINGS)


@pytest.mark.parametrize(
    "history,question,borrows",
    [
        ("园长要什么学历才能申请普惠？", "普惠园认定有效期几年？", False),  # no word of it is rare, but one unit holds them all
        ("普惠园一个月保教费最多多少？", "伙食费能一次收一学期的吗？", False),
        ("普惠园认定有效期几年？", "要交什么材料？", True),  # a single word names no topic of its own
        ("交流轮岗的老师要去几年？", "补贴多少？", True),
    ],
)
def test_a_question_whose_nouns_one_unit_holds_together_asks_afresh(library: PolicyQA, history: str, question: str, borrows: bool):
    assert library.read(question, [history]).used_history is borrows


@pytest.mark.parametrize(
    "prev,topic",
    [
        ("高中助学金一年能拿多少", "高中助学金一年能拿"),
        ("高中助学金需要交什么材料", "高中助学金需要交材料"),  # a follow-up asks when, not again which papers
        ("阳光素拓公益班是做什么的", "阳光素拓公益班是做什么的"),  # 做什么 is what it is, the topic itself
        ("什么是1+N现代学校制度", "什么是1+N现代学校制度"),
    ],
)
def test_the_topic_of_the_last_turn_drops_what_it_asked(qa: PolicyQA, prev: str, topic: str):
    assert qa.rewriter.topic(prev) == topic
