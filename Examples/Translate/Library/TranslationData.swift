import ExampleSupport
import Foundation
import Recurrent

// The data of the `translate` example: dates of the proleptic Gregorian calendar, the human
// formats they are written in (each with a renderer and a parser), the character
// vocabularies of the encoder and the decoder, and the data set split by date.

/// Why a date string or a date could not be used by the `translate` example.
public enum TranslationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Year, month and day that do not name a day of the calendar (`2023-02-29`), or a
    /// year outside `1...9999`.
    case invalidDate(year: Int, month: Int, day: Int)
    /// `text` does not match `format`: where (a character offset) and why.
    case mismatch(text: String, format: String, offset: Int, reason: String)
    /// `text` matches none of the formats.
    case unrecognised(text: String)
    /// A character that the model's input vocabulary does not have.
    case unknownCharacter(Character, text: String)
    /// A string that is not `YYYY-MM-DD` over the output vocabulary.
    case notISO(String)
    /// Sizes or options that do not fit the data set.
    case invalidOption(String)

    /// The message, naming what was expected and what was found.
    public var description: String {
        switch self {
        case let .invalidDate(year, month, day):
            return "invalid date: year \(year), month \(month), day \(day) is not a day of the Gregorian calendar (years 1...9999)"
        case let .mismatch(text, format, offset, reason):
            return "\"\(text)\" does not match the format \(format) at character \(offset): \(reason)"
        case let .unrecognised(text):
            return "\"\(text)\" matches none of the \(DateFormat.allCases.count) date formats (for example \(DateFormat.allCases.prefix(4).map { "\"\($0.example)\"" }.joined(separator: ", ")))"
        case let .unknownCharacter(character, text):
            return "\"\(text)\" has the character \"\(character)\" (\(character.unicodeScalars.map { String(format: "U+%04X", $0.value) }.joined(separator: " "))), which is not in the input vocabulary (ASCII letters, digits and \" ,./-'\")"
        case let .notISO(text):
            return "expected an ISO date YYYY-MM-DD, got \"\(text)\""
        case let .invalidOption(message):
            return "invalid option: \(message)"
        }
    }
}

/// A day of the proleptic Gregorian calendar, years 1 to 9999.
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The year, `1...9999`.
    public let year: Int
    /// The month, `1...12`.
    public let month: Int
    /// The day of the month, `1...daysIn(month)`.
    public let day: Int

    /// The English names of the months, January first.
    public static let monthNames = ["January", "February", "March", "April", "May", "June", "July",
                                    "August", "September", "October", "November", "December"]
    /// The English names of the weekdays, Monday first (index ``weekday``).
    public static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// The date `year-month-day`.
    ///
    /// - Throws: ``TranslationError/invalidDate(year:month:day:)`` when it is not a day of
    ///   the calendar or the year is outside `1...9999`.
    public init(year: Int, month: Int, day: Int) throws {
        guard (1...9999).contains(year), (1...12).contains(month),
              day >= 1, day <= Self.daysIn(month: month, year: year) else {
            throw TranslationError.invalidDate(year: year, month: month, day: day)
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01 (negative: before it).
    ///
    /// - Throws: ``TranslationError/invalidDate(year:month:day:)`` when that day falls
    ///   outside years 1...9999.
    public init(daysSince1970 days: Int) throws {
        // Howard Hinnant's civil_from_days: 400-year eras starting on 1 March.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        try self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// Whether `year` is a leap year of the Gregorian calendar.
    public static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days of `month` (`1...12`) in `year`; 0 for a month out of range.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return isLeapYear(year) ? 29 : 28
        default: return 0
        }
    }

    /// The number of days from 1970-01-01 to this date (negative before it).
    public var daysSince1970: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The day of the week: 0 for Monday … 6 for Sunday (1970-01-01 was a Thursday).
    public var weekday: Int {
        let r = (daysSince1970 + 3) % 7
        return r < 0 ? r + 7 : r
    }

    /// The English name of ``weekday`` (`"Thursday"`).
    public var weekdayName: String { Self.weekdayNames[weekday] }

    /// The ISO 8601 form `YYYY-MM-DD` (`"1979-05-03"`).
    public var iso: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// The ISO form.
    public var description: String { iso }

    /// The date of an ISO string `YYYY-MM-DD`.
    ///
    /// - Throws: ``TranslationError/notISO(_:)`` when `text` is not ten characters
    ///   `DDDD-DD-DD`, ``TranslationError/invalidDate(year:month:day:)`` when the numbers
    ///   name no day.
    public init(iso text: String) throws {
        let c = Array(text.utf8)
        let digit: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
        guard c.count == 10, c[4] == 45, c[7] == 45,
              [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy({ digit(c[$0]) }) else {
            throw TranslationError.notISO(text)
        }
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(c[$1] - 48) } }
        try self.init(year: number(0..<4), month: number(5..<7), day: number(8..<10))
    }

    /// Chronological order.
    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// The English ordinal of a day, `1st`, `2nd`, `3rd`, `4th`, …, `11th`, `12th`, `13th`,
    /// `21st`, `22nd`, `23rd`, `31st`.
    public static func ordinal(_ n: Int) -> String {
        let suffix: String
        switch (n % 10, n % 100) {
        case (_, 11...13): suffix = "th"
        case (1, _): suffix = "st"
        case (2, _): suffix = "nd"
        case (3, _): suffix = "rd"
        default: suffix = "th"
        }
        return "\(n)\(suffix)"
    }
}

/// One piece of a ``DateFormat``: a field of the date or a literal text.
public enum DateToken: Hashable, Sendable {
    /// The day of the month, `03` when `padded`, else `3`.
    case day(padded: Bool)
    /// The day as an English ordinal, `3rd` (see ``CalendarDate/ordinal(_:)``).
    case ordinalDay
    /// The month number, `05` when `padded`, else `5`.
    case month(padded: Bool)
    /// The month's English name, `Sep` when `abbreviated` (three letters), else `September`.
    case monthName(abbreviated: Bool)
    /// The weekday's English name, `Thu` when `abbreviated` (three letters), else `Thursday`.
    case weekday(abbreviated: Bool)
    /// The year, four digits (`1979`), or its last two (`79`) when `twoDigits`.
    case year(twoDigits: Bool)
    /// Text written as it is (`", "`, `"/"`, `" of "`).
    case literal(String)
}

/// The letter case a ``DateFormat`` writes its names in.
public enum LetterCase: String, Sendable {
    /// `May`, `Thursday`.
    case title
    /// `MAY`, `THURSDAY`.
    case upper
    /// `may`, `thursday`.
    case lower

    /// `text` (a title-case name) in this case.
    public func apply(_ text: String) -> String {
        switch self {
        case .title: return text
        case .upper: return text.uppercased()
        case .lower: return text.lowercased()
        }
    }
}

/// The human formats the `translate` example writes dates in; each renders a date
/// (``render(_:)``) and parses its own output back (``parse(_:caseSensitive:)``).
///
/// Conventions: numeric dates with **slashes** put the month first, as in the United
/// States (`05/03/79` is 3 May 1979), except `1979/05/03`, which starts with the four-digit
/// year; numeric dates with **dots** put the day first, as in most of Europe (`3.5.1979`,
/// `03.05.79`). Two-digit years pivot at 50: `50`…`99` are 1950…1999 and `00`…`49` are
/// 2000…2049, so that they are unambiguous over the data set's range 1950–2049. Weekdays
/// are those of the proleptic Gregorian calendar.
public enum DateFormat: String, CaseIterable, Codable, Sendable {
    /// `3 May 1979`.
    case dayMonthYear
    /// `03 May 1979`.
    case paddedDayMonthYear
    /// `May 3, 1979`.
    case monthDayYear
    /// `Thursday, 3 May 1979`.
    case weekdayDayMonthYear
    /// `Thu 3 May 1979` (abbreviated weekday and month).
    case shortWeekdayDayMonthYear
    /// `3 Sep 1979` (abbreviated month).
    case dayShortMonthYear
    /// `3 sep 79` (lower case, abbreviated month, two-digit year).
    case lowercaseDayShortMonthShortYear
    /// `3 SEPTEMBER 1979` (upper case).
    case uppercaseDayMonthYear
    /// `05/03/79` (month/day/two-digit year).
    case slashMonthDayShortYear
    /// `3.5.1979` (day.month.year).
    case dotDayMonthYear
    /// `03.05.79` (day.month.two-digit year, padded).
    case dotPaddedDayMonthShortYear
    /// `1979/05/03` (year/month/day).
    case slashYearMonthDay
    /// `3rd of May 1979`.
    case ordinalOfMonthYear
    /// `Thursday, May 3rd, 1979`.
    case weekdayMonthOrdinalYear

    /// The tokens of the format, in order.
    public var tokens: [DateToken] {
        switch self {
        case .dayMonthYear: return [.day(padded: false), .literal(" "), .monthName(abbreviated: false), .literal(" "), .year(twoDigits: false)]
        case .paddedDayMonthYear: return [.day(padded: true), .literal(" "), .monthName(abbreviated: false), .literal(" "), .year(twoDigits: false)]
        case .monthDayYear: return [.monthName(abbreviated: false), .literal(" "), .day(padded: false), .literal(", "), .year(twoDigits: false)]
        case .weekdayDayMonthYear:
            return [.weekday(abbreviated: false), .literal(", "), .day(padded: false), .literal(" "), .monthName(abbreviated: false),
                    .literal(" "), .year(twoDigits: false)]
        case .shortWeekdayDayMonthYear:
            return [.weekday(abbreviated: true), .literal(" "), .day(padded: false), .literal(" "), .monthName(abbreviated: true),
                    .literal(" "), .year(twoDigits: false)]
        case .dayShortMonthYear: return [.day(padded: false), .literal(" "), .monthName(abbreviated: true), .literal(" "), .year(twoDigits: false)]
        case .lowercaseDayShortMonthShortYear:
            return [.day(padded: false), .literal(" "), .monthName(abbreviated: true), .literal(" "), .year(twoDigits: true)]
        case .uppercaseDayMonthYear: return DateFormat.dayMonthYear.tokens
        case .slashMonthDayShortYear: return [.month(padded: true), .literal("/"), .day(padded: true), .literal("/"), .year(twoDigits: true)]
        case .dotDayMonthYear: return [.day(padded: false), .literal("."), .month(padded: false), .literal("."), .year(twoDigits: false)]
        case .dotPaddedDayMonthShortYear: return [.day(padded: true), .literal("."), .month(padded: true), .literal("."), .year(twoDigits: true)]
        case .slashYearMonthDay: return [.year(twoDigits: false), .literal("/"), .month(padded: true), .literal("/"), .day(padded: true)]
        case .ordinalOfMonthYear: return [.ordinalDay, .literal(" of "), .monthName(abbreviated: false), .literal(" "), .year(twoDigits: false)]
        case .weekdayMonthOrdinalYear:
            return [.weekday(abbreviated: false), .literal(", "), .monthName(abbreviated: false), .literal(" "), .ordinalDay,
                    .literal(", "), .year(twoDigits: false)]
        }
    }

    /// The letter case of the names.
    public var letterCase: LetterCase {
        switch self {
        case .lowercaseDayShortMonthShortYear: return .lower
        case .uppercaseDayMonthYear: return .upper
        default: return .title
        }
    }

    /// 3 September 1979 (a Monday) in this format, for help texts and reports: a month
    /// whose abbreviation differs from its name, so that every format reads differently.
    public var example: String { render(Self.exampleDate) }

    private static let exampleDate = try! CalendarDate(year: 1979, month: 9, day: 3)

    /// `date` written in this format. Two-digit years keep the last two digits (use dates
    /// in 1950–2049 for them to parse back to the same date).
    public func render(_ date: CalendarDate) -> String {
        var text = ""
        for token in tokens {
            switch token {
            case let .day(padded): text += padded ? String(format: "%02d", date.day) : String(date.day)
            case .ordinalDay: text += CalendarDate.ordinal(date.day)
            case let .month(padded): text += padded ? String(format: "%02d", date.month) : String(date.month)
            case let .monthName(abbreviated):
                let name = CalendarDate.monthNames[date.month - 1]
                text += letterCase.apply(abbreviated ? String(name.prefix(3)) : name)
            case let .weekday(abbreviated):
                let name = date.weekdayName
                text += letterCase.apply(abbreviated ? String(name.prefix(3)) : name)
            case let .year(twoDigits): text += twoDigits ? String(format: "%02d", date.year % 100) : String(format: "%04d", date.year)
            case let .literal(literal): text += literal
            }
        }
        return text
    }

    /// The date that `text`, written in this format, names.
    ///
    /// Numbers must have the format's digits: exactly two when padded, one or two without
    /// a leading zero otherwise, four for a year (two with the pivot at 50, see the type's
    /// documentation). Names must be the English ones, in the format's letter case when
    /// `caseSensitive` (else in any case). An ordinal day needs its own suffix (`3rd`, not
    /// `3th`) when `caseSensitive`; any of `st`, `nd`, `rd`, `th` otherwise. A weekday must be
    /// the date's.
    ///
    /// - Throws: ``TranslationError/mismatch(text:format:offset:reason:)`` when `text` does
    ///   not follow the format or its weekday is not the date's;
    ///   ``TranslationError/invalidDate(year:month:day:)`` when its numbers name no day.
    public func parse(_ text: String, caseSensitive: Bool = true) throws -> CalendarDate {
        let characters = Array(text)
        var position = 0
        var day: Int?, month: Int?, year: Int?, weekday: Int?
        func fail(_ reason: String) -> TranslationError {
            .mismatch(text: text, format: rawValue, offset: position, reason: reason)
        }
        func digits(minimum: Int, maximum: Int, what: String) throws -> Int {
            var value = 0, count = 0
            while count < maximum, position < characters.count, let d = characters[position].wholeNumberValue,
                  characters[position].isASCII {
                if count == 0 && d == 0 && minimum == 1 && maximum == 2 && caseSensitive {
                    throw fail("expected the \(what) without a leading zero")
                }
                value = value * 10 + d
                count += 1
                position += 1
            }
            guard count >= minimum else {
                throw fail(minimum == maximum ? "expected \(minimum) digits for the \(what)" : "expected \(minimum) to \(maximum) digits for the \(what)")
            }
            return value
        }
        /// The index of the name that `text` continues with (the longest match).
        func name(_ names: [String], abbreviated: Bool, what: String) throws -> Int {
            var best: (index: Int, length: Int)?
            for (i, full) in names.enumerated() {
                let candidate = Array(letterCase.apply(abbreviated ? String(full.prefix(3)) : full))
                guard position + candidate.count <= characters.count else { continue }
                let slice = characters[position..<(position + candidate.count)]
                let matches = caseSensitive ? slice.elementsEqual(candidate)
                                            : slice.elementsEqual(candidate) { $0.lowercased() == $1.lowercased() }
                if matches && candidate.count > (best?.length ?? 0) { best = (i, candidate.count) }
            }
            guard let best else {
                let expected = abbreviated ? "an abbreviated \(what) name" : "a \(what) name"
                throw fail("expected \(expected) in \(caseSensitive ? letterCase.rawValue : "any") case")
            }
            position += best.length
            return best.index
        }
        for token in tokens {
            switch token {
            case let .day(padded): day = try padded ? digits(minimum: 2, maximum: 2, what: "day") : digits(minimum: 1, maximum: 2, what: "day")
            case .ordinalDay:
                let value = try digits(minimum: 1, maximum: 2, what: "day")
                let expected = String(CalendarDate.ordinal(value).dropFirst(String(value).count))
                guard position + 2 <= characters.count else { throw fail("expected an ordinal suffix (st, nd, rd, th)") }
                let suffix = String(characters[position..<(position + 2)])
                if caseSensitive {
                    guard suffix == expected else { throw fail("expected the suffix \"\(expected)\" after \(value), got \"\(suffix)\"") }
                } else {
                    guard ["st", "nd", "rd", "th"].contains(suffix.lowercased()) else {
                        throw fail("expected an ordinal suffix (st, nd, rd, th), got \"\(suffix)\"")
                    }
                }
                position += 2
                day = value
            case let .month(padded): month = try padded ? digits(minimum: 2, maximum: 2, what: "month") : digits(minimum: 1, maximum: 2, what: "month")
            case let .monthName(abbreviated): month = try name(CalendarDate.monthNames, abbreviated: abbreviated, what: "month") + 1
            case let .weekday(abbreviated): weekday = try name(CalendarDate.weekdayNames, abbreviated: abbreviated, what: "weekday")
            case let .year(twoDigits):
                if twoDigits {
                    let yy = try digits(minimum: 2, maximum: 2, what: "year")
                    year = yy >= 50 ? 1900 + yy : 2000 + yy
                } else {
                    year = try digits(minimum: 4, maximum: 4, what: "year")
                }
            case let .literal(literal):
                let expected = Array(literal)
                guard position + expected.count <= characters.count,
                      characters[position..<(position + expected.count)].elementsEqual(expected) else {
                    let found = String(characters[position..<min(characters.count, position + expected.count)])
                    throw fail("expected \"\(literal)\", got \"\(found)\"")
                }
                position += expected.count
            }
        }
        guard position == characters.count else {
            throw fail("unexpected \"\(String(characters[position...]))\" after the date")
        }
        guard let day, let month, let year else { throw fail("the format lacks a day, month or year (a bug)") }
        let date = try CalendarDate(year: year, month: month, day: day)
        if let weekday, weekday != date.weekday {
            throw fail("\(CalendarDate.weekdayNames[weekday]) is not the weekday of \(date.iso), a \(date.weekdayName)")
        }
        return date
    }

    /// The date `text` names and the first format (in declaration order) that reads it:
    /// formats are tried with their own letter case first, then in any case.
    ///
    /// - Throws: ``TranslationError/unrecognised(text:)`` when no format reads `text`.
    public static func parseAny(_ text: String) throws -> (date: CalendarDate, format: DateFormat) {
        for caseSensitive in [true, false] {
            for format in allCases {
                if let date = try? format.parse(text, caseSensitive: caseSensitive) { return (date, format) }
            }
        }
        throw TranslationError.unrecognised(text: text)
    }
}

/// The characters the encoder reads: `" ,./-'"`, the digits, `a`–`z` and `A`–`Z` (68).
public enum DateInputVocabulary {
    /// The characters, in index order.
    public static let characters: [Character] = Array(" ,./-'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// The number of characters.
    public static var count: Int { characters.count }

    private static let table: [Int] = {
        var table = [Int](repeating: -1, count: 128)
        for (i, c) in characters.enumerated() { table[Int(c.asciiValue!)] = i }
        return table
    }()

    /// The index of `character`, or `nil` when it is not in the vocabulary.
    public static func index(of character: Character) -> Int? {
        guard let ascii = character.asciiValue else { return nil }
        let i = table[Int(ascii)]
        return i >= 0 ? i : nil
    }

    /// The index of every character of `text`.
    ///
    /// - Throws: ``TranslationError/unknownCharacter(_:text:)`` for the first character
    ///   outside the vocabulary.
    public static func encode(_ text: String) throws -> [Int] {
        try text.map { c in
            guard let i = index(of: c) else { throw TranslationError.unknownCharacter(c, text: text) }
            return i
        }
    }
}

/// The characters the decoder writes: the digits and `-` (classes `0...10`), and the start
/// token (index 11) that the decoder reads before the first character. Every target is an
/// ISO date of exactly ``length`` characters, so no end token is needed.
public enum ISOVocabulary {
    /// The characters written, in class order: `0`–`9`, then `-`.
    public static let characters: [Character] = Array("0123456789-")
    /// The number of output classes (11).
    public static var classCount: Int { characters.count }
    /// The index of the start token in the decoder's input (11).
    public static var startToken: Int { characters.count }
    /// The size of the decoder's one-hot input: the classes and the start token (12).
    public static var inputCount: Int { characters.count + 1 }
    /// The length of every output, `YYYY-MM-DD` (10).
    public static let length = 10

    /// The classes of an ISO date's characters.
    ///
    /// - Throws: ``TranslationError/notISO(_:)`` when `iso` is not ``length`` characters of
    ///   the vocabulary.
    public static func encode(_ iso: String) throws -> [Int] {
        let classes = iso.compactMap { characters.firstIndex(of: $0) }
        guard classes.count == length, iso.count == length else { throw TranslationError.notISO(iso) }
        return classes
    }

    /// The text of output classes (each in `0..<classCount`; others show as `?`).
    public static func decode(_ classes: [Int]) -> String {
        String(classes.map { characters.indices.contains($0) ? characters[$0] : "?" })
    }
}

/// One example: a date written in a format, and its ISO target.
public struct TranslationExample: Hashable, Sendable {
    /// The date.
    public let date: CalendarDate
    /// The format it is written in.
    public let format: DateFormat
    /// The date written in ``format`` (the encoder's input).
    public let text: String
    /// The indices of ``text`` in ``DateInputVocabulary``.
    public let input: [Int]
    /// The classes of ``target`` in ``ISOVocabulary``.
    public let targetClasses: [Int]

    /// The ISO form of ``date`` (the decoder's target).
    public var target: String { date.iso }

    /// `date` written in `format`.
    ///
    /// - Throws: ``TranslationError/invalidOption(_:)`` when the year has not four digits
    ///   (its ISO form would not be ``ISOVocabulary/length`` characters).
    public init(date: CalendarDate, format: DateFormat) throws {
        guard date.year >= 1000 else { throw TranslationError.invalidOption("the year of \(date) has fewer than four digits") }
        self.date = date
        self.format = format
        text = format.render(date)
        input = try DateInputVocabulary.encode(text)
        targetClasses = try ISOVocabulary.encode(date.iso)
    }
}

/// The dates of the `translate` example, split by date.
///
/// Every date from ``firstDate`` to ``lastDate`` (36,525 days) is shuffled with the seed;
/// the first `testDates` of them are held out and written in **every** format (the test
/// set, `testDates × 14` examples, in date order then format order); the training examples
/// are the remaining dates (reshuffled each time they are exhausted), each in a format
/// drawn uniformly. No held-out date appears in training, in any format.
public struct TranslationDataset: Sendable {
    /// The first date of the range, 1950-01-01.
    public static let firstDate = try! CalendarDate(year: 1950, month: 1, day: 1)
    /// The last date of the range, 2049-12-31.
    public static let lastDate = try! CalendarDate(year: 2049, month: 12, day: 31)
    /// The number of days in the range (36,525).
    public static var dayCount: Int { lastDate.daysSince1970 - firstDate.daysSince1970 + 1 }

    /// The formats of the examples.
    public let formats: [DateFormat]
    /// The training examples.
    public let train: [TranslationExample]
    /// The held-out examples: each test date in every format.
    public let test: [TranslationExample]
    /// The held-out dates, in chronological order.
    public let testDates: [CalendarDate]

    /// A data set of `trainSize` training examples and `testDates` held-out dates.
    ///
    /// - Throws: ``TranslationError/invalidOption(_:)`` when `trainSize < 1`, `testDates < 1`,
    ///   `testDates` leaves no training date, or `formats` is empty.
    public init(trainSize: Int, testDates: Int, seed: UInt64, formats: [DateFormat] = DateFormat.allCases) throws {
        guard trainSize >= 1 else { throw TranslationError.invalidOption("expected at least 1 training example, got \(trainSize)") }
        guard testDates >= 1, testDates < Self.dayCount else {
            throw TranslationError.invalidOption("expected 1 to \(Self.dayCount - 1) held-out dates, got \(testDates)")
        }
        guard !formats.isEmpty else { throw TranslationError.invalidOption("expected at least one format") }
        var generator = SeededGenerator(seed: seed ^ 0xDA7E_5EED)
        let first = Self.firstDate.daysSince1970
        var days = Array(first..<(first + Self.dayCount))
        days.shuffle(using: &generator)
        let held = try days[..<testDates].sorted().map { try CalendarDate(daysSince1970: $0) }
        var pool = Array(days[testDates...])
        var train: [TranslationExample] = []
        train.reserveCapacity(trainSize)
        var next = 0
        while train.count < trainSize {
            if next == pool.count {
                pool.shuffle(using: &generator)
                next = 0
            }
            let format = formats[Int.random(in: 0..<formats.count, using: &generator)]
            train.append(try TranslationExample(date: CalendarDate(daysSince1970: pool[next]), format: format))
            next += 1
        }
        self.formats = formats
        self.train = train
        self.testDates = held
        test = try held.flatMap { date in try formats.map { try TranslationExample(date: date, format: $0) } }
    }
}
