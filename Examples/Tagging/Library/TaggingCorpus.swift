import ExampleSupport
import NamesExample
import Foundation
import Recurrent

/// The type of a named entity in the `tagging` example.
public enum EntityType: String, CaseIterable, Codable, Sendable, Comparable {
    /// A person: a surname, with or without a first name (a title before it is not part of
    /// the entity, as in CoNLL-2003).
    case person = "PER"
    /// A place: a city or a country, one or more tokens (`New York`, `Rio de Janeiro`).
    case location = "LOC"
    /// A date: a year, a month and year, a day and month, or a full date (`3 May 1979`).
    case date = "DATE"

    /// Orders the types as declared: person, location, date.
    public static func < (lhs: EntityType, rhs: EntityType) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The BIO tag of one token: outside any entity, at the beginning of one, or inside one
/// after its first token.
public enum BIOTag: Hashable, Sendable, CustomStringConvertible {
    /// Not part of an entity (`O`).
    case outside
    /// The first token of an entity (`B-PER`).
    case begin(EntityType)
    /// A later token of an entity (`I-PER`).
    case inside(EntityType)

    /// The 7 tags in class-index order: `O, B-PER, I-PER, B-LOC, I-LOC, B-DATE, I-DATE`.
    public static let all: [BIOTag] = [.outside] + EntityType.allCases.flatMap { [BIOTag.begin($0), .inside($0)] }

    /// The class index of the tag in ``all`` (0…6).
    public var index: Int {
        switch self {
        case .outside: return 0
        case let .begin(type): return 1 + 2 * EntityType.allCases.firstIndex(of: type)!
        case let .inside(type): return 2 + 2 * EntityType.allCases.firstIndex(of: type)!
        }
    }

    /// The tag with class index `index`, or `nil` outside `0..<7`.
    public init?(index: Int) {
        guard BIOTag.all.indices.contains(index) else { return nil }
        self = BIOTag.all[index]
    }

    /// The tag written `label` (`"O"`, `"B-PER"`, `"I-DATE"`…), or `nil` for another string.
    public init?(_ label: String) {
        guard let tag = BIOTag.all.first(where: { $0.description == label }) else { return nil }
        self = tag
    }

    /// The entity type of a `B-` or `I-` tag, `nil` for `O`.
    public var entityType: EntityType? {
        switch self {
        case .outside: return nil
        case let .begin(type), let .inside(type): return type
        }
    }

    /// The CoNLL spelling: `O`, `B-PER`, `I-LOC`…
    public var description: String {
        switch self {
        case .outside: return "O"
        case let .begin(type): return "B-" + type.rawValue
        case let .inside(type): return "I-" + type.rawValue
        }
    }
}

/// An entity mention: its type and the tokens `start..<end` of its sentence.
public struct EntitySpan: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The entity type.
    public var type: EntityType
    /// The index of its first token.
    public var start: Int
    /// The index after its last token (`end > start`).
    public var end: Int

    /// The span of `type` over the tokens `start..<end`.
    public init(type: EntityType, start: Int, end: Int) {
        self.type = type
        self.start = start
        self.end = end
    }

    /// `PER[3..<5]`.
    public var description: String { "\(type.rawValue)[\(start)..<\(end)]" }

    /// The BIO tags of `count` tokens carrying `spans` (`B-` on each span's first token,
    /// `I-` on the others, `O` elsewhere).
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when a span is empty, leaves
    ///   `0..<count`, or overlaps another.
    public static func tags(of spans: [EntitySpan], count: Int) throws -> [BIOTag] {
        var tags = [BIOTag](repeating: .outside, count: count)
        var taken = [Bool](repeating: false, count: count)
        for span in spans {
            guard span.start >= 0, span.end <= count, span.start < span.end else {
                throw ExampleDataError.invalidData("span \(span) does not fit in 0..<\(count) tokens")
            }
            for i in span.start..<span.end {
                guard !taken[i] else { throw ExampleDataError.invalidData("span \(span) overlaps another span at token \(i)") }
                taken[i] = true
                tags[i] = i == span.start ? .begin(span.type) : .inside(span.type)
            }
        }
        return tags
    }

    /// The entities read from BIO tags, CoNLL style (as `conlleval` and `seqeval` do): an
    /// entity starts at `B-X`, and also at an `I-X` that does not continue an entity of
    /// type `X` (after `O`, after another type, or first in the sentence); it goes on over
    /// the following `I-X` tags and ends before any other tag.
    public static func spans(in tags: [BIOTag]) -> [EntitySpan] {
        var spans: [EntitySpan] = []
        var current: EntitySpan?
        for (i, tag) in tags.enumerated() {
            switch tag {
            case .outside:
                if let c = current { spans.append(c); current = nil }
            case let .begin(type):
                if let c = current { spans.append(c) }
                current = EntitySpan(type: type, start: i, end: i + 1)
            case let .inside(type):
                if var c = current, c.type == type {
                    c.end = i + 1
                    current = c
                } else {
                    if let c = current { spans.append(c) }
                    current = EntitySpan(type: type, start: i, end: i + 1)
                }
            }
        }
        if let c = current { spans.append(c) }
        return spans
    }
}

/// A sentence of the tagging corpus: its tokens, the gold BIO tag of each, and the
/// entities filled into its template.
public struct TaggedSentence: Sendable, Equatable {
    /// The tokens (words and punctuation), in order.
    public var tokens: [String]
    /// The gold tag of each token (as many as ``tokens``).
    public var tags: [BIOTag]
    /// The entities the template's slots were filled with, in sentence order.
    public var entities: [EntitySpan]
    /// The surnames used in the sentence (for checking the train/test split).
    public var surnames: [String]

    /// A sentence of `tokens` with the given entity spans; the tags follow from the spans.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when a span does not fit the tokens
    ///   or overlaps another.
    public init(tokens: [String], entities: [EntitySpan], surnames: [String] = []) throws {
        self.tokens = tokens
        self.tags = try EntitySpan.tags(of: entities, count: tokens.count)
        self.entities = entities
        self.surnames = surnames
    }

    /// The tokens joined by spaces.
    public var text: String { tokens.joined(separator: " ") }
}

/// The fixed word lists the corpus is built from: sentence templates, places, month names,
/// first names and titles. Surnames come from the names data (``TaggingDataset``).
public enum TaggingLexicon {
    /// The sentence templates: space-separated tokens with the slots `{PER}` (a person),
    /// `{LOC}` (a place), `{PER_OR_LOC}` (either, at even odds: only the words themselves
    /// tell which), `{DATE}` (a date) and `{ON_DATE}` (a date after its preposition,
    /// `on 3 May 1979` or `in May 1979`, the preposition tagged `O`; `{ON_DATE_CAP}`
    /// capitalises the preposition at the start of a sentence).
    public static let templates: [String] = [
        "Yesterday {PER} flew to {LOC} {ON_DATE} .",
        "{PER} was born in {LOC} {ON_DATE} .",
        "{ON_DATE_CAP} , {PER} moved from {LOC} to {LOC} .",
        "{PER} met {PER} in {LOC} last week .",
        "The report by {PER} was published {ON_DATE} .",
        "{PER} has lived in {LOC} since {DATE} .",
        "According to {PER} , the meeting in {LOC} is planned for {DATE} .",
        "{ON_DATE_CAP} {PER} opened a small bakery in {LOC} .",
        "{PER} and {PER} will visit {LOC} next month .",
        "The conference in {LOC} ended {ON_DATE} .",
        "{PER} said that prices in {LOC} rose sharply {ON_DATE} .",
        "Police in {LOC} questioned {PER} {ON_DATE} .",
        "{PER} won the award {ON_DATE} .",
        "After leaving {LOC} , {PER} worked as a teacher until {DATE} .",
        "A letter from {PER} arrived in {LOC} .",
        "{PER} married {PER} in {LOC} {ON_DATE} .",
        "Did {PER} really travel to {LOC} {ON_DATE} ?",
        "The team led by {PER} returned from {LOC} .",
        "{LOC} welcomed {PER} , who arrived {ON_DATE} .",
        "Since {DATE} , {PER} has been the mayor of {LOC} .",
        "Nobody in {LOC} had heard of {PER} before {DATE} .",
        "Thanks to {PER} , the museum in {LOC} reopened {ON_DATE} .",
        "The train from {LOC} to {LOC} was late again .",
        "Between {DATE} and {DATE} the company moved its offices to {LOC} .",
        "Her brother works for {PER} in {LOC} .",
        "We will never forget what {PER} told us {ON_DATE} .",
        "{PER} is expected to speak in {LOC} tomorrow .",
        "The new bridge near {LOC} was designed by {PER} .",
        "Everyone was talking about {PER_OR_LOC} {ON_DATE} .",
        "A long article about {PER_OR_LOC} appeared in the paper .",
        "{PER_OR_LOC} is hard to forget .",
        "She wrote a book about {PER_OR_LOC} and {PER_OR_LOC} .",
        "They still remember {PER_OR_LOC} .",
    ]

    /// The places: cities and countries, some of several tokens; `the` before a place is
    /// not part of it.
    public static let places: [String] = [
        "London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Warsaw", "Moscow", "Athens",
        "Lisbon", "Dublin", "Edinburgh", "Amsterdam", "Brussels", "Tokyo", "Kyoto", "Seoul", "Beijing",
        "Shanghai", "Hanoi", "Cairo", "Beirut", "Istanbul", "Chicago", "Boston", "Toronto", "Sydney", "Lima",
        "Oslo", "Helsinki", "Stockholm", "Copenhagen", "Budapest", "Bucharest", "Belgrade", "Zagreb", "Krakow",
        "Munich", "Hamburg", "Milan", "Naples", "Venice", "Barcelona", "Seville", "Porto", "Geneva", "Zurich",
        "Marseille", "Lyon", "Glasgow", "Manchester", "Liverpool", "Osaka", "Nagoya", "Busan", "Manila",
        "Jakarta", "Bangkok", "Karachi", "Mumbai", "Nairobi", "Lagos", "Dakar", "Havana", "Bogota", "Santiago",
        "Montreal", "Vancouver", "Melbourne", "Auckland",
        "Mexico City", "New York", "Los Angeles", "San Francisco", "Buenos Aires", "Rio de Janeiro",
        "Hong Kong", "Cape Town", "Tel Aviv", "New Delhi", "Kuala Lumpur", "Abu Dhabi", "Ho Chi Minh City",
        "France", "Germany", "Italy", "Spain", "Portugal", "Poland", "Russia", "Greece", "Ireland", "Scotland",
        "Japan", "China", "Korea", "Vietnam", "Brazil", "Canada", "Egypt", "Australia", "Argentina", "Norway",
        "Finland", "Hungary", "Romania", "Morocco", "Kenya", "Peru", "Chile", "Cuba", "India", "Thailand",
        "South Africa", "New Zealand", "Sri Lanka", "Costa Rica", "Saudi Arabia", "Puerto Rico",
        "the United States", "the Netherlands", "the Czech Republic", "the Philippines",
    ]

    /// The month names, January to December.
    public static let months: [String] = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    /// The first names that may precede a surname (shared by the training and test
    /// sentences: only the surnames are held out).
    public static let firstNames: [String] = [
        "Anna", "Maria", "John", "Peter", "Olga", "Yuki", "Ahmed", "Sofia", "James", "Elena", "Pablo", "Hana",
        "Omar", "Ivan", "Lucia", "Marco", "Sean", "Fiona", "Hans", "Ingrid", "Kenji", "Mei", "Noor", "Tomas",
        "Chloe", "David", "Sara", "Luca", "Nina", "Karim",
    ]

    /// The titles that may precede a surname (tagged `O`, outside the person entity).
    public static let titles: [String] = ["Mr.", "Mrs.", "Ms.", "Dr.", "Professor", "Judge", "Captain"]

    /// The years dates are drawn from.
    public static let years: ClosedRange<Int> = 1900...2024

    /// Every token of the lexicon lowercased (template words, places, months, first names,
    /// titles): a surname containing one of them is not used, so that a token's word never
    /// decides alone whether it is a surname.
    public static let reservedWords: Set<String> = {
        var words = Set<String>()
        for template in templates {
            for token in template.split(separator: " ") where !token.hasPrefix("{") { words.insert(token.lowercased()) }
        }
        for phrase in places + months + firstNames + titles {
            for token in phrase.split(separator: " ") { words.insert(token.lowercased()) }
        }
        for word in ["on", "in"] { words.insert(word) }   // the prepositions of {ON_DATE}
        return words
    }()
}

/// The surnames of the names data, split into disjoint training and test sets.
public struct SurnameSplit: Sendable, Equatable {
    /// The surnames of the training sentences.
    public let train: [String]
    /// The surnames of the held-out sentences, none of which is in ``train``.
    public let test: [String]

    /// The distinct surnames of `names` that start with a capital letter and share no token
    /// with ``TaggingLexicon/reservedWords``, shuffled with `seed`, a fraction `testFraction`
    /// of them (rounded, at least one) held out for the test sentences.
    ///
    /// Surnames are compared as spelt after folding (``NamesAlphabet/fold(_:)``); one that
    /// appears in several languages is used once.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `testFraction` is not in (0, 1)
    ///   or fewer than two surnames are usable.
    public init(names: [String], testFraction: Double, seed: UInt64) throws {
        guard testFraction > 0, testFraction < 1 else {
            throw ExampleDataError.invalidData("the test fraction of the surnames must be in (0, 1), got \(testFraction)")
        }
        var seen = Set<String>()
        var usable: [String] = []
        for raw in names {
            let name = NamesAlphabet.fold(raw).split(separator: " ").joined(separator: " ")
            guard let first = name.first, first.isUppercase, !seen.contains(name) else { continue }
            seen.insert(name)
            let tokens = name.split(separator: " ").map { $0.lowercased() }
            if tokens.contains(where: TaggingLexicon.reservedWords.contains) { continue }
            usable.append(name)
        }
        guard usable.count >= 2 else {
            throw ExampleDataError.invalidData("expected at least 2 usable surnames, got \(usable.count)")
        }
        var generator = SeededGenerator(seed: seed &+ 0x5EED_7A66)
        usable.shuffle(using: &generator)
        let testCount = min(usable.count - 1, max(1, Int((Double(usable.count) * testFraction).rounded())))
        test = Array(usable.prefix(testCount))
        train = Array(usable.dropFirst(testCount))
    }
}

/// The places of ``TaggingLexicon/places`` split into disjoint training and test sets.
public struct PlaceSplit: Sendable, Equatable {
    /// The places of the training sentences.
    public let train: [String]
    /// The places of the held-out sentences, none of which is in ``train``.
    public let test: [String]

    /// `places` shuffled with `seed`, a fraction `testFraction` of them (rounded, at least
    /// one) held out for the test sentences.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `testFraction` is not in (0, 1)
    ///   or there are fewer than two distinct places.
    public init(places: [String] = TaggingLexicon.places, testFraction: Double, seed: UInt64) throws {
        guard testFraction > 0, testFraction < 1 else {
            throw ExampleDataError.invalidData("the test fraction of the places must be in (0, 1), got \(testFraction)")
        }
        var seen = Set<String>()
        var distinct = places.filter { seen.insert($0).inserted }
        guard distinct.count >= 2 else {
            throw ExampleDataError.invalidData("expected at least 2 distinct places, got \(distinct.count)")
        }
        var generator = SeededGenerator(seed: seed &+ 0x91AC_E5EE)
        distinct.shuffle(using: &generator)
        let testCount = min(distinct.count - 1, max(1, Int((Double(distinct.count) * testFraction).rounded())))
        test = Array(distinct.prefix(testCount))
        train = Array(distinct.dropFirst(testCount))
    }
}

/// Fills the templates of ``TaggingLexicon`` with surnames, places and dates to make tagged
/// sentences.
///
/// A person is a surname alone (40 %), a title and a surname (25 %, the title tagged `O`)
/// or a first name and a surname (35 %, both in the entity). A date is a full date
/// (`3 May 1979`), a month and year (`May 1979`), a year (`1979`) or a day and month
/// (`3 May`), with `on` before a day and `in` otherwise for the `{ON_DATE}` slot.
public struct TaggingCorpusGenerator: Sendable {
    /// The surnames persons are drawn from.
    public let surnames: [String]
    /// The places drawn for `{LOC}`.
    public let places: [String]
    /// The templates, as in ``TaggingLexicon/templates``.
    public let templates: [String]

    /// A generator drawing persons from `surnames`, places from `places` and sentences from
    /// `templates`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `surnames`, `places` or
    ///   `templates` is empty, or a template has an unknown `{SLOT}`.
    public init(surnames: [String], places: [String] = TaggingLexicon.places,
                templates: [String] = TaggingLexicon.templates) throws {
        guard !surnames.isEmpty else { throw ExampleDataError.invalidData("no surnames to fill the templates with") }
        guard !places.isEmpty else { throw ExampleDataError.invalidData("no places to fill the templates with") }
        guard !templates.isEmpty else { throw ExampleDataError.invalidData("no templates") }
        let slots: Set<String> = ["{PER}", "{LOC}", "{PER_OR_LOC}", "{DATE}", "{ON_DATE}", "{ON_DATE_CAP}"]
        for template in templates {
            for token in template.split(separator: " ") where token.hasPrefix("{") && !slots.contains(String(token)) {
                throw ExampleDataError.invalidData("unknown slot \(token) in template \"\(template)\"; expected one of \(slots.sorted())")
            }
        }
        self.surnames = surnames
        self.places = places
        self.templates = templates
    }

    /// One random sentence: a random template with its slots filled.
    public func sentence(using generator: inout SeededGenerator) -> TaggedSentence {
        let template = templates[Int.random(in: 0..<templates.count, using: &generator)]
        return fill(template, using: &generator)
    }

    /// `count` random sentences drawn from a generator seeded with `seed`.
    public func sentences(count: Int, seed: UInt64) -> [TaggedSentence] {
        var generator = SeededGenerator(seed: seed)
        return (0..<max(count, 0)).map { _ in sentence(using: &generator) }
    }

    /// `template` with each slot filled at random.
    public func fill(_ template: String, using generator: inout SeededGenerator) -> TaggedSentence {
        var tokens: [String] = []
        var spans: [EntitySpan] = []
        var used: [String] = []
        func append(_ words: [String], as type: EntityType?) {
            if let type { spans.append(EntitySpan(type: type, start: tokens.count, end: tokens.count + words.count)) }
            tokens += words
        }
        for token in template.split(separator: " ").map(String.init) {
            var slot = token
            if slot == "{PER_OR_LOC}" { slot = Bool.random(using: &generator) ? "{PER}" : "{LOC}" }
            switch slot {
            case "{PER}":
                let surname = surnames[Int.random(in: 0..<surnames.count, using: &generator)]
                used.append(surname)
                let words = surname.split(separator: " ").map(String.init)
                let form = Double.random(in: 0..<1, using: &generator)
                if form < 0.40 {
                    append(words, as: .person)
                } else if form < 0.65 {
                    append([TaggingLexicon.titles.randomElement(using: &generator)!], as: nil)
                    append(words, as: .person)
                } else {
                    append([TaggingLexicon.firstNames.randomElement(using: &generator)!] + words, as: .person)
                }
            case "{LOC}":
                let place = places[Int.random(in: 0..<places.count, using: &generator)].split(separator: " ").map(String.init)
                if place.first == "the" {   // "the Netherlands": the article is not part of the name
                    append([tokens.isEmpty ? "The" : "the"], as: nil)
                    append(Array(place.dropFirst()), as: .location)
                } else {
                    append(place, as: .location)
                }
            case "{DATE}":
                append(Self.date(using: &generator).words, as: .date)
            case "{ON_DATE}", "{ON_DATE_CAP}":
                let (words, hasDay) = Self.date(using: &generator)
                let preposition = hasDay ? "on" : "in"
                append([slot == "{ON_DATE}" ? preposition : preposition.capitalized], as: nil)
                append(words, as: .date)
            default:
                append([slot], as: nil)
            }
        }
        // The spans are built in order and never overlap, so this cannot throw.
        return try! TaggedSentence(tokens: tokens, entities: spans, surnames: used)
    }

    /// A random date and whether it names a day: `3 May 1979` (30 %), `May 1979` (30 %),
    /// `1979` (25 %) or `3 May` (15 %).
    static func date(using generator: inout SeededGenerator) -> (words: [String], hasDay: Bool) {
        let month = TaggingLexicon.months[Int.random(in: 0..<12, using: &generator)]
        let year = String(Int.random(in: TaggingLexicon.years, using: &generator))
        let day = String(Int.random(in: 1...28, using: &generator))
        let form = Double.random(in: 0..<1, using: &generator)
        if form < 0.30 { return ([day, month, year], true) }
        if form < 0.60 { return ([month, year], false) }
        if form < 0.85 { return ([year], false) }
        return ([day, month], true)
    }
}

/// The tagging corpus: training sentences and held-out sentences whose surnames and places
/// never occur in the training sentences.
public struct TaggingDataset: Sendable {
    /// The split of the surnames.
    public let surnames: SurnameSplit
    /// The split of the places.
    public let places: PlaceSplit
    /// The training sentences (surnames from ``SurnameSplit/train``).
    public let train: [TaggedSentence]
    /// The held-out sentences (surnames from ``SurnameSplit/test``).
    public let test: [TaggedSentence]

    /// A corpus of `trainCount` training and `testCount` held-out sentences over the
    /// surnames of `names` and the places of ``TaggingLexicon/places`` (a fifth of each held
    /// out), everything drawn from `seed`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when a count is below 1 or too few
    ///   surnames are usable.
    public init(names: [String], trainCount: Int, testCount: Int, seed: UInt64) throws {
        guard trainCount >= 1, testCount >= 1 else {
            throw ExampleDataError.invalidData("expected at least 1 training and 1 test sentence, got \(trainCount) and \(testCount)")
        }
        surnames = try SurnameSplit(names: names, testFraction: 0.2, seed: seed)
        places = try PlaceSplit(testFraction: 0.2, seed: seed)
        train = try TaggingCorpusGenerator(surnames: surnames.train, places: places.train)
            .sentences(count: trainCount, seed: seed &+ 1)
        test = try TaggingCorpusGenerator(surnames: surnames.test, places: places.test)
            .sentences(count: testCount, seed: seed &+ 2)
    }

    /// The corpus over the surnames of the bundled names data (``NamesDataset/loadBundled()``,
    /// training and test names together: the split here is this example's own).
    ///
    /// - Throws: what ``NamesDataset/loadBundled()`` and ``init(names:trainCount:testCount:seed:)`` throw.
    public static func bundled(trainCount: Int, testCount: Int, seed: UInt64) throws -> TaggingDataset {
        let names = try NamesDataset.loadBundled()
        return try TaggingDataset(names: (names.train + names.test).map(\.name), trainCount: trainCount,
                                  testCount: testCount, seed: seed)
    }
}
