import ExampleSupport
import TranslateExample
import Foundation
import Recurrent
import XCTest

final class TranslationTests: XCTestCase {
    private func date(_ year: Int, _ month: Int, _ day: Int) throws -> CalendarDate {
        try CalendarDate(year: year, month: month, day: day)
    }

    func testCalendarArithmetic() throws {
        XCTAssertEqual(try date(1970, 1, 1).daysSince1970, 0)
        XCTAssertEqual(try date(2000, 3, 1).daysSince1970, 11_017)
        XCTAssertEqual(try CalendarDate(daysSince1970: -1), try date(1969, 12, 31))
        XCTAssertEqual(TranslationDataset.dayCount, 36_525)
        // Every day of the range round-trips through its day number and its ISO form.
        let first = TranslationDataset.firstDate.daysSince1970
        var previous: CalendarDate?
        for n in first..<(first + TranslationDataset.dayCount) {
            let d = try CalendarDate(daysSince1970: n)
            XCTAssertEqual(d.daysSince1970, n)
            if let previous { XCTAssertLessThan(previous, d) }
            previous = d
        }
        XCTAssertEqual(previous, TranslationDataset.lastDate)
        XCTAssertEqual(try CalendarDate(iso: "1979-05-03"), try date(1979, 5, 3))
        XCTAssertEqual(try date(7, 1, 9).iso, "0007-01-09")
        XCTAssertThrowsError(try date(2023, 2, 29)) {
            XCTAssertEqual($0 as? TranslationError, .invalidDate(year: 2023, month: 2, day: 29))
        }
        XCTAssertNoThrow(try date(2000, 2, 29))
        XCTAssertThrowsError(try date(1900, 2, 29))
        XCTAssertThrowsError(try CalendarDate(iso: "1979-5-03")) { XCTAssertEqual($0 as? TranslationError, .notISO("1979-5-03")) }
        XCTAssertThrowsError(try CalendarDate(iso: "1979-13-03"))
    }

    func testWeekdaysOfKnownDates() throws {
        XCTAssertEqual(try date(1979, 5, 3).weekdayName, "Thursday")
        XCTAssertEqual(try date(2000, 1, 1).weekdayName, "Saturday")
        XCTAssertEqual(try date(1970, 1, 1).weekdayName, "Thursday")
        XCTAssertEqual(try date(1969, 7, 20).weekdayName, "Sunday")       // the Moon landing
        XCTAssertEqual(try date(1989, 11, 9).weekdayName, "Thursday")     // the Berlin Wall opens
        XCTAssertEqual(try date(2049, 12, 31).weekdayName, "Friday")
        XCTAssertEqual(try date(1950, 1, 1).weekdayName, "Sunday")
        // And every 37th day of the range agrees with Foundation's Gregorian calendar.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let first = TranslationDataset.firstDate.daysSince1970
        for n in stride(from: first, to: first + TranslationDataset.dayCount, by: 37) {
            let d = try CalendarDate(daysSince1970: n)
            let components = calendar.dateComponents([.year, .month, .day, .weekday],
                                                     from: Date(timeIntervalSince1970: Double(n) * 86_400))
            XCTAssertEqual([components.year, components.month, components.day], [d.year, d.month, d.day])
            // Foundation: 1 is Sunday … 7 Saturday; here 0 is Monday … 6 Sunday.
            XCTAssertEqual((components.weekday! + 5) % 7, d.weekday, "\(d)")
        }
    }

    func testRenderingOfOneDate() throws {
        let d = try date(1979, 5, 3)
        let expected: [DateFormat: String] = [
            .dayMonthYear: "3 May 1979", .paddedDayMonthYear: "03 May 1979", .monthDayYear: "May 3, 1979",
            .weekdayDayMonthYear: "Thursday, 3 May 1979", .shortWeekdayDayMonthYear: "Thu 3 May 1979",
            .dayShortMonthYear: "3 May 1979", .lowercaseDayShortMonthShortYear: "3 may 79", .uppercaseDayMonthYear: "3 MAY 1979",
            .slashMonthDayShortYear: "05/03/79", .dotDayMonthYear: "3.5.1979", .dotPaddedDayMonthShortYear: "03.05.79",
            .slashYearMonthDay: "1979/05/03", .ordinalOfMonthYear: "3rd of May 1979",
            .weekdayMonthOrdinalYear: "Thursday, May 3rd, 1979",
        ]
        XCTAssertEqual(Set(expected.keys), Set(DateFormat.allCases))
        for (format, text) in expected { XCTAssertEqual(format.render(d), text, format.rawValue) }
        XCTAssertEqual(DateFormat.dayShortMonthYear.example, "3 Sep 1979")
        XCTAssertEqual(DateFormat.shortWeekdayDayMonthYear.render(try date(2049, 12, 31)), "Fri 31 Dec 2049")
        XCTAssertEqual(DateFormat.slashMonthDayShortYear.render(try date(2001, 12, 9)), "12/09/01")
        XCTAssertEqual((1...31).map(CalendarDate.ordinal).filter { !$0.hasSuffix("th") },
                       ["1st", "2nd", "3rd", "21st", "22nd", "23rd", "31st"])
        XCTAssertEqual(CalendarDate.ordinal(11), "11th")
        XCTAssertEqual(CalendarDate.ordinal(12), "12th")
        XCTAssertEqual(CalendarDate.ordinal(13), "13th")
    }

    func testParsingRoundTripsForEveryFormat() throws {
        var generator = SeededGenerator(seed: 42)
        let first = TranslationDataset.firstDate.daysSince1970
        // 500 seeded dates and the range's edges, in every format.
        var days = (0..<500).map { _ in first + Int.random(in: 0..<TranslationDataset.dayCount, using: &generator) }
        days += [first, first + TranslationDataset.dayCount - 1, try date(2000, 2, 29).daysSince1970, try date(1999, 12, 31).daysSince1970]
        for n in days {
            let d = try CalendarDate(daysSince1970: n)
            for format in DateFormat.allCases {
                let text = format.render(d)
                XCTAssertEqual(try format.parse(text), d, "\(format.rawValue): \"\(text)\"")
                XCTAssertEqual(try format.parse(text, caseSensitive: false), d)
                XCTAssertEqual(try DateFormat.parseAny(text).date, d, "\"\(text)\"")
            }
        }
    }

    func testParserRejectsWhatItShould() throws {
        func rejects(_ format: DateFormat, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try format.parse(text), "\(format.rawValue) accepted \"\(text)\"", file: file, line: line)
        }
        rejects(.weekdayDayMonthYear, "Friday, 3 May 1979")          // the wrong weekday
        rejects(.dayMonthYear, "31 April 1979")                        // no such day
        rejects(.dayMonthYear, "03 May 1979")                          // a padded day where none is
        rejects(.paddedDayMonthYear, "3 May 1979")
        rejects(.dayMonthYear, "3 may 1979")                           // the wrong case
        rejects(.dayMonthYear, "3 May 1979 ")                          // trailing text
        rejects(.ordinalOfMonthYear, "3th of May 1979")                // the wrong suffix
        rejects(.slashMonthDayShortYear, "13/05/79")                   // month 13
        rejects(.dotDayMonthYear, "3.5.79")                            // two-digit year where four are
        XCTAssertThrowsError(try DateFormat.parseAny("the third of May")) {
            XCTAssertEqual($0 as? TranslationError, .unrecognised(text: "the third of May"))
        }
        // Lenient parsing accepts other letter cases and suffixes.
        XCTAssertEqual(try DateFormat.ordinalOfMonthYear.parse("3th of MAY 1979", caseSensitive: false), try date(1979, 5, 3))
        XCTAssertEqual(try DateFormat.parseAny("thursday, 3 MAY 1979").date, try date(1979, 5, 3))
        // The two-digit year pivot: 50…99 → 19xx, 00…49 → 20xx.
        XCTAssertEqual(try DateFormat.slashMonthDayShortYear.parse("01/01/50"), try date(1950, 1, 1))
        XCTAssertEqual(try DateFormat.slashMonthDayShortYear.parse("12/31/49"), try date(2049, 12, 31))
        XCTAssertThrowsError(try DateFormat.weekdayDayMonthYear.parse("Friday, 3 May 1979")) { error in
            guard case let .mismatch(_, _, _, reason)? = error as? TranslationError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("Thursday"), reason)
        }
    }

    func testVocabularies() throws {
        XCTAssertEqual(DateInputVocabulary.count, 68)
        XCTAssertEqual(Set(DateInputVocabulary.characters).count, 68)
        let text = "Thursday, May 3rd, 1979/05.03-x'"
        XCTAssertEqual(String(try DateInputVocabulary.encode(text).map { DateInputVocabulary.characters[$0] }), text)
        XCTAssertThrowsError(try DateInputVocabulary.encode("3 Mai 1979é")) {
            XCTAssertEqual($0 as? TranslationError, .unknownCharacter("é", text: "3 Mai 1979é"))
        }
        XCTAssertEqual(ISOVocabulary.classCount, 11)
        XCTAssertEqual(ISOVocabulary.startToken, 11)
        XCTAssertEqual(try ISOVocabulary.encode("1979-05-03"), [1, 9, 7, 9, 10, 0, 5, 10, 0, 3])
        XCTAssertEqual(ISOVocabulary.decode([1, 9, 7, 9, 10, 0, 5, 10, 0, 3]), "1979-05-03")
        XCTAssertEqual(ISOVocabulary.decode([12]), "?")
        XCTAssertThrowsError(try ISOVocabulary.encode("1979-5-3"))
        // Every character of every format over the range is in the input vocabulary.
        for format in DateFormat.allCases {
            for month in 1...12 { XCTAssertNoThrow(try DateInputVocabulary.encode(format.render(try date(1987, month, 28)))) }
        }
    }

    func testBatchTensors() throws {
        let examples = try [TranslationExample(date: date(1979, 5, 3), format: .dotDayMonthYear),
                            TranslationExample(date: date(2001, 12, 9), format: .monthDayYear)]
        let (input, lengths) = try TranslationBatch.encoderInput(examples.map(\.input))
        XCTAssertEqual(lengths, [8, 16])
        XCTAssertEqual(input.shape, [2, 16, 68])
        let x = input.scalars
        XCTAssertEqual(x[0..<(16 * 68)].reduce(0, +), 8)             // zero past the length
        XCTAssertEqual(x[(16 * 68)...].reduce(0, +), 16)
        XCTAssertEqual(x[DateInputVocabulary.index(of: "3")!], 1)
        let previous = TranslationBatch.teacherForcedInput(examples).scalars
        XCTAssertEqual(previous.count, 2 * 10 * 12)
        XCTAssertEqual(previous[ISOVocabulary.startToken], 1)
        XCTAssertEqual(previous[12 + 1], 1)                           // step 1 reads "1" of 1979
        XCTAssertEqual(previous[120 + 9 * 12 + 0], 1)                 // step 9 reads "0" of 2001-12-09
        XCTAssertEqual(TranslationBatch.targets(examples).count, 20)
        XCTAssertThrowsError(try TranslationBatch.encoderInput([]))
    }

    func testDatasetSplitsByDate() throws {
        let data = try TranslationDataset(trainSize: 3000, testDates: 200, seed: 7)
        XCTAssertEqual(data.train.count, 3000)
        XCTAssertEqual(data.testDates.count, 200)
        XCTAssertEqual(data.test.count, 200 * DateFormat.allCases.count)
        let held = Set(data.testDates)
        XCTAssertEqual(held.count, 200)
        XCTAssertTrue(data.train.allSatisfy { !held.contains($0.date) })
        XCTAssertEqual(Set(data.test.map(\.date)), held)
        XCTAssertTrue((data.train + data.test).allSatisfy {
            $0.date >= TranslationDataset.firstDate && $0.date <= TranslationDataset.lastDate && $0.text == $0.format.render($0.date)
        })
        XCTAssertEqual(Set(data.train.map(\.format)), Set(DateFormat.allCases))
        // Every test date in every format, and the same seed gives the same data.
        XCTAssertEqual(data.test.prefix(DateFormat.allCases.count).map(\.format), DateFormat.allCases)
        let again = try TranslationDataset(trainSize: 3000, testDates: 200, seed: 7)
        XCTAssertEqual(again.train, data.train)
        XCTAssertEqual(again.test, data.test)
        XCTAssertNotEqual(try TranslationDataset(trainSize: 3000, testDates: 200, seed: 8).testDates, data.testDates)
        XCTAssertThrowsError(try TranslationDataset(trainSize: 0, testDates: 10, seed: 0))
        XCTAssertThrowsError(try TranslationDataset(trainSize: 10, testDates: TranslationDataset.dayCount, seed: 0))
    }

    func testExactMatchMetric() throws {
        let scores = try TranslationScores(predictions: ["1979-05-03", "1979-05-04", "2000-01-01", "1979-05"],
                                           targets: ["1979-05-03", "1979-05-03", "1999-12-31", "1979-05-03"])
        XCTAssertEqual(scores.count, 4)
        XCTAssertEqual(scores.exactMatch, 0.25)
        // 10 + 9 + 3 (the two "-" and the last "1") + 7 correct characters of 40 (the short
        // prediction's missing characters count as wrong).
        XCTAssertEqual(scores.characterAccuracy, 29.0 / 40.0, accuracy: 1e-12)
        XCTAssertTrue(try TranslationScores(predictions: [], targets: []).exactMatch.isNaN)
        XCTAssertThrowsError(try TranslationScores(predictions: ["a"], targets: []))
    }

    func testGreedyDecodingFeedsBackItsOwnPredictions() throws {
        RandomState.manualSeed(3)
        for kind in TranslationModelKind.allCases {
            let model = try DateTranslator(kind: kind, hiddenSize: 8, seed: 3)
            let examples = try [TranslationExample(date: date(1979, 5, 3), format: .weekdayMonthOrdinalYear),
                                TranslationExample(date: date(2049, 12, 31), format: .slashMonthDayShortYear),
                                TranslationExample(date: date(1950, 1, 1), format: .dotDayMonthYear)]
            let decoded = try model.greedyDecode(examples.map(\.input), batchSize: 2)
            XCTAssertEqual(decoded.count, 3)
            XCTAssertTrue(decoded.allSatisfy { $0.count == 10 && $0.allSatisfy { (0..<11).contains($0) } })
            // The fused decoder fed the decoded characters predicts the same characters.
            let (input, lengths) = try TranslationBatch.encoderInput(examples.map(\.input))
            var previous = [Float](repeating: 0, count: 3 * 10 * 12)
            for b in 0..<3 {
                previous[b * 120 + ISOVocabulary.startToken] = 1
                for t in 1..<10 { previous[b * 120 + t * 12 + decoded[b][t - 1]] = 1 }
            }
            let logits = try withoutGradients {
                try model.logits(input, lengths: lengths, previous: Tensor(shape: [3, 10, 12], scalars: previous)).scalars
            }
            for row in 0..<30 {
                let scores = logits[(row * 11)..<(row * 11 + 11)]
                XCTAssertEqual(scores.firstIndex(of: scores.max()!)! - row * 11, decoded[row / 10][row % 10], "\(kind) row \(row)")
            }
            XCTAssertEqual(try model.translate(["3 May 1979"]).first?.count, 10)
            XCTAssertThrowsError(try model.translate(["3 Mai 1979 ü"]))
            XCTAssertThrowsError(try model.translate([""]))
        }
    }

    func testShortTrainingRunLowersTheLoss() throws {
        let data = try TranslationDataset(trainSize: 384, testDates: 4, seed: 1)
        var options = TranslationOptions()
        options.epochs = 4
        options.hidden = 24
        options.batchSize = 32
        options.learningRate = 0.01
        options.evaluateEveryEpoch = false
        let (model, metrics, evaluation) = try trainTranslator(data, options)
        XCTAssertEqual(metrics.epochLosses.count, 4)
        XCTAssertLessThan(metrics.epochLosses.last!, 0.8 * metrics.epochLosses.first!, "\(metrics.epochLosses)")
        XCTAssertEqual(metrics.testCount, 4 * DateFormat.allCases.count)
        XCTAssertEqual(evaluation.predictions.count, metrics.testCount)
        XCTAssertEqual(evaluation.perFormat.map(\.format), DateFormat.allCases)
        XCTAssertEqual(metrics.perFormatExactMatch.count, DateFormat.allCases.count)
        XCTAssertTrue(metrics.epochExactMatch.isEmpty)
        XCTAssertEqual(model.hiddenSize, 24)
        let line = try JSONReport.line(metrics)
        XCTAssertTrue(line.contains("\"exactMatch\""))
        XCTAssertTrue(TranslationPlots.training(metrics).svg().hasPrefix("<svg"))
        XCTAssertNil(TranslationPlots.perFormat(metrics))   // not evaluated every epoch
        var perEpoch = metrics
        perEpoch.epochPerFormatExactMatch = Dictionary(uniqueKeysWithValues: DateFormat.allCases.map { ($0.rawValue, [0.1, 0.2, 0.5, 0.9]) })
        XCTAssertTrue(try XCTUnwrap(TranslationPlots.perFormat(perEpoch)).svg().contains("3rd of September 1979"))
        var bad = options
        bad.batchSize = 0
        XCTAssertThrowsError(try trainTranslator(data, bad)) {
            XCTAssertEqual($0 as? TranslationError, .invalidOption("batch size: expected at least 1, got 0"))
        }
    }
}
