import Testing

@testable import Realm

@Suite("A node's power draw, from its channels in watts")
struct PowerMeterTests {
    @Test("The total is reported once every channel has read, then only after the interval and a change over 1 %")
    func reportsChangesNotTooOften() {
        var meter = PowerMeter(topics: ["n/ls372/mxcHeaterPower", "n/ls372/stillPower"], interval: .seconds(10))
        let t0 = ContinuousClock.now
        #expect(meter.read(2e-6, on: "n/ls372/mxcHeaterPower", now: t0) == nil)  // the still has not read yet
        #expect(meter.read(1e-3, on: "n/ls372/other", now: t0) == nil)  // not a power channel
        #expect(meter.read(3e-3, on: "n/ls372/stillPower", now: t0) == 3e-3 + 2e-6)
        #expect(meter.read(4e-3, on: "n/ls372/stillPower", now: t0 + .seconds(5)) == nil)  // too soon
        #expect(meter.read(4e-3, on: "n/ls372/stillPower", now: t0 + .seconds(11)) == 4e-3 + 2e-6)
        #expect(meter.read(4.02e-3, on: "n/ls372/stillPower", now: t0 + .seconds(30)) == nil)  // under 1 %
        #expect(meter.read(.nan, on: "n/ls372/stillPower", now: t0 + .seconds(40)) == nil)
        #expect(meter.read(-1, on: "n/ls372/stillPower", now: t0 + .seconds(40)) == nil)
        #expect(meter.read(0, on: "n/ls372/stillPower", now: t0 + .seconds(40)) == 2e-6)
    }
}
