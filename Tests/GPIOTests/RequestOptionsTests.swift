import CGPIOD
import Testing

@testable import GPIO

/// The reason `options.validate` rejects the request with, or nil if it accepts it.
private func rejection(
    _ options: GPIORequestOptions, offsets: [UInt32] = [4], initialValues: [Bool]? = nil
) -> GPIOError.Reason? {
    do {
        try options.validate(offsets: offsets, initialValues: initialValues, chip: "gpiochip7")
        return nil
    } catch {
        #expect(error.errno == nil)
        #expect(error.operation == .requestLines(chip: "gpiochip7", offsets: offsets, options: options))
        return error.reason
    }
}

@Suite("Request validation, before any C call")
struct RequestValidationTests {
    @Test("Open-drain and open-source are rejected on inputs and edge-event requests")
    func driveModesNeedOutputs() {
        #expect(rejection(GPIORequestOptions(.input, consumer: "t", openDrain: true)) == .openDrainOnInput)
        #expect(rejection(GPIORequestOptions(.input, consumer: "t", openSource: true)) == .openSourceOnInput)
        #expect(
            rejection(GPIORequestOptions(.edgeEvents(.both), consumer: "t", openDrain: true)) == .openDrainOnInput)
        #expect(
            rejection(GPIORequestOptions(.edgeEvents(.rising), consumer: "t", openSource: true))
                == .openSourceOnInput)
        #expect(rejection(GPIORequestOptions(.output, consumer: "t", openDrain: true)) == nil)
        #expect(rejection(GPIORequestOptions(.output, consumer: "t", openSource: true)) == nil)
    }

    @Test("Open-drain together with open-source is rejected")
    func openDrainAndOpenSource() {
        let options = GPIORequestOptions(.output, consumer: "t", openDrain: true, openSource: true)
        #expect(rejection(options) == .openDrainAndOpenSource)
    }

    @Test("No offsets, and more than GPIOD_LINE_BULK_MAX_LINES offsets, are rejected")
    func lineCounts() {
        let options = GPIORequestOptions(.input, consumer: "t")
        let limit = Int(GPIOD_LINE_BULK_MAX_LINES)
        #expect(rejection(options, offsets: []) == .noLines)
        #expect(rejection(options, offsets: Array(0..<UInt32(limit))) == nil)
        #expect(
            rejection(options, offsets: Array(0...UInt32(limit))) == .tooManyLines(count: limit + 1, limit: limit))
    }

    @Test("Repeated offsets are rejected, each named once")
    func duplicateOffsets() {
        let options = GPIORequestOptions(.output, consumer: "t")
        #expect(rejection(options, offsets: [9, 3, 4, 9, 3, 3]) == .duplicateOffsets([3, 9]))
        #expect(rejection(options, offsets: [9, 3, 4]) == nil)
    }

    @Test("Initial values must match the offsets one to one")
    func initialValueCount() {
        let options = GPIORequestOptions(.output, consumer: "t")
        #expect(
            rejection(options, offsets: [1, 2, 3], initialValues: [true, false])
                == .initialValueCount(given: 2, lines: 3))
        #expect(rejection(options, offsets: [1, 2, 3], initialValues: [true, false, true]) == nil)
    }

    @Test("A rejected request's description names the chip, the lines, the consumer and the problem")
    func description() throws {
        let options = GPIORequestOptions(.input, consumer: "interlock", openDrain: true)
        let error = #expect(throws: GPIOError.self) {
            try options.validate(offsets: [5, 6], initialValues: nil, chip: "gpiochip7")
        }
        #expect(
            error?.description
                == "Could not request lines 5, 6 of gpiochip7 as an input for \"interlock\": "
                + "open-drain applies only to outputs.")
    }
}

@Suite("Mapping request options to libgpiod's request type and flags")
struct LibgpiodConfigTests {
    @Test("Each kind maps to its GPIOD_LINE_REQUEST_* type, with no flags by default")
    func requestTypes() {
        let expected: [(GPIORequestOptions.Kind, Int)] = [
            (.input, GPIOD_LINE_REQUEST_DIRECTION_INPUT),
            (.output, GPIOD_LINE_REQUEST_DIRECTION_OUTPUT),
            (.edgeEvents(.rising), GPIOD_LINE_REQUEST_EVENT_RISING_EDGE),
            (.edgeEvents(.falling), GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE),
            (.edgeEvents(.both), GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES),
        ]
        for (kind, requestType) in expected {
            let config = GPIORequestOptions(kind, consumer: "t").libgpiodConfig
            #expect(config == LibgpiodRequestConfig(requestType: Int32(requestType), flags: 0))
        }
    }

    @Test("Each option maps to its GPIOD_LINE_REQUEST_FLAG_* bit")
    func singleFlags() {
        let expected: [(GPIORequestOptions, Int)] = [
            (GPIORequestOptions(.output, consumer: "t", activeLow: true), GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW),
            (GPIORequestOptions(.output, consumer: "t", openDrain: true), GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN),
            (GPIORequestOptions(.output, consumer: "t", openSource: true), GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE),
            (GPIORequestOptions(.input, consumer: "t", bias: .disabled), GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE),
            (GPIORequestOptions(.input, consumer: "t", bias: .pullUp), GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP),
            (GPIORequestOptions(.input, consumer: "t", bias: .pullDown), GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN),
        ]
        for (options, flag) in expected {
            #expect(options.libgpiodConfig.flags == Int32(flag))
        }
    }

    @Test("Options combine into an OR of their flags")
    func combinedFlags() {
        let options = GPIORequestOptions(
            .edgeEvents(.falling), consumer: "t", activeLow: true, bias: .pullDown)
        let config = options.libgpiodConfig
        #expect(config.requestType == Int32(GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE))
        #expect(config.flags == Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN))
    }

    @Test("The C request config carries the consumer name, type and flags")
    func cStruct() {
        let options = GPIORequestOptions(.output, consumer: "trigger-1", openDrain: true, bias: .pullUp)
        let (consumer, requestType, flags) = options.withLibgpiodConfig { config in
            (String(cString: config.consumer), config.request_type, config.flags)
        }
        #expect(consumer == "trigger-1")
        #expect(requestType == Int32(GPIOD_LINE_REQUEST_DIRECTION_OUTPUT))
        #expect(flags == Int32(GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP))
    }
}
