import ArgumentParser
import Foundation
import Synchronization
import GPIO
import Quantities
import Runtime
import USB
import ZeroMQ

/// `qrrm probe`: checks what this node can reach. It publishes and receives through ZeroMQ over
/// TCP loopback, lists USB devices and GPIO chips, and asks the kernel for real-time scheduling.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check ZeroMQ messaging, USB devices, GPIO chips and real-time permissions on this machine.")

    @Option(name: .long, help: "Messages to send through the PUB→SUB loop.")
    var messages: Int = 2_000

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard messages > 0 else { throw ValidationError("--messages must be at least 1, got \(messages)") }
    }

    func run() throws {
        let report = ProbeReport(
            zeromq: Result { try ZeroMQProbe.run(messages: messages) },
            usb: Result { try USBContext().devices().map(USBDeviceReport.init) },
            gpio: Result { try GPIOChip.available().map(GPIOChipReport.init) },
            realtime: RealtimeReport.measure())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            report.printText()
        }
        if case .failure = report.zeromq { throw ExitCode.failure }
    }
}

/// One PUB→SUB round trip per message over TCP loopback, checking topic, order and payload.
struct ZeroMQProbe: Encodable {
    var libzmq: String
    var curve: Bool
    var endpoint: String
    var sent: Int
    var received: Int
    var medianLatency: String
    var p99Latency: String
    var maxLatency: String

    static let topic = Array("probe/loopback/heartbeat".utf8)

    static func run(messages: Int) throws -> ZeroMQProbe {
        let context = try ZMQContext()
        let publisher = try context.socket(.pub)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")
        let subscriber = try context.socket(.sub)
        try subscriber.subscribe("probe/")
        try subscriber.connect(endpoint)
        try awaitSubscription(publisher, subscriber)

        var payload = [UInt8](repeating: 0, count: 64)
        var inbox = ZMQMessage()
        var latencies: [Int64] = []
        latencies.reserveCapacity(messages)
        for sequence in 0..<UInt64(messages) {
            let sentAt = Realtime.monotonicNanoseconds
            payload.withUnsafeMutableBytes {
                $0.storeBytes(of: sequence.littleEndian, toByteOffset: 0, as: UInt64.self)
                $0.storeBytes(of: sentAt.littleEndian, toByteOffset: 8, as: Int64.self)
            }
            try publisher.send(multipart: [topic, payload])
            guard try subscriber.receive(into: &inbox, wait: .timeout(.seconds(2))) else {
                throw ProbeFailure("message \(sequence) did not arrive within 2 s")
            }
            let receivedTopic = inbox.bytes
            guard receivedTopic == topic, inbox.hasMore,
                  try subscriber.receive(into: &inbox, wait: .dontWait) else {
                throw ProbeFailure("message \(sequence) arrived without its topic and payload frames")
            }
            latencies.append(Realtime.monotonicNanoseconds - sentAt)
            let echoed = inbox.bytes
            guard echoed == payload else {
                throw ProbeFailure("message \(sequence) arrived with a different payload")
            }
        }
        latencies.sort()
        func percentile(_ p: Double) -> String {
            Time.nanoseconds(Double(latencies[min(latencies.count - 1, Int(p * Double(latencies.count)))])).description
        }
        let version = zmqVersion
        return ZeroMQProbe(
            libzmq: "\(version.major).\(version.minor).\(version.patch)", curve: zmqHas("curve"),
            endpoint: endpoint, sent: messages, received: latencies.count,
            medianLatency: percentile(0.5), p99Latency: percentile(0.99),
            maxLatency: Time.nanoseconds(Double(latencies.last!)).description)
    }

    /// Publishes a probe until the subscriber sees it: a new subscription takes a moment to arrive.
    private static func awaitSubscription(_ publisher: ZMQSocket, _ subscriber: ZMQSocket) throws {
        for _ in 0..<500 {
            try publisher.send("probe/sync")
            if try subscriber.receiveFrame(wait: .timeout(.milliseconds(10))) != nil { return }
        }
        throw ProbeFailure("the subscription did not reach the publisher within 5 s")
    }
}

struct ProbeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct USBDeviceReport: Encodable {
    var id: String
    var bus: UInt8
    var address: UInt8
    var manufacturer: String?
    var product: String?

    init(_ device: USBDeviceInfo) {
        id = String(format: "%04x:%04x", device.descriptor.vendorID, device.descriptor.productID)
        bus = device.busNumber
        address = device.address
        let strings = try? device.strings.get()
        manufacturer = strings?.manufacturer
        product = strings?.product
    }
}

struct GPIOChipReport: Encodable {
    var name: String
    var label: String?
    var lines: Int?
    var error: String?

    init(_ name: String) {
        self.name = name
        do {
            let chip = try GPIOChip(opening: .name(name))
            label = chip.label
            lines = chip.lineCount
        } catch {
            self.error = error.description
        }
    }
}

/// What the kernel grants the host loop: SCHED_FIFO, mlockall and the PM QoS latency request.
struct RealtimeReport: Encodable {
    var fifoPriority80: String
    var lockMemory: String
    var cpuDMALatency: String

    static func measure() -> RealtimeReport {
        // Scheduling is per thread: try it on a throw-away thread so this one is unchanged.
        let fifo = Mutex<String>("")
        let done = DispatchSemaphore(value: 0)
        Thread {
            fifo.withLock { $0 = outcome { () throws(RealtimeError) in try Realtime.setFIFOPriority(80) } }
            done.signal()
        }.start()
        done.wait()
        return RealtimeReport(
            fifoPriority80: fifo.withLock { $0 },
            lockMemory: outcome { () throws(RealtimeError) in
                try Realtime.lockMemory()
                try Realtime.unlockMemory()
            },
            cpuDMALatency: outcome { () throws(RealtimeError) in _ = try Realtime.requestCPUDMALatency(microseconds: 0) })
    }

    private static func outcome(_ attempt: () throws(RealtimeError) -> Void) -> String {
        do {
            try attempt()
            return "permitted"
        } catch {
            return "not permitted: \(error)"
        }
    }
}

struct ProbeReport: Encodable {
    var zeromq: Result<ZeroMQProbe, any Error>
    var usb: Result<[USBDeviceReport], any Error>
    var gpio: Result<[GPIOChipReport], any Error>
    var realtime: RealtimeReport

    enum CodingKeys: String, CodingKey { case zeromq, usb, gpio, realtime }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try Self.encode(zeromq, .zeromq, &container)
        try Self.encode(usb, .usb, &container)
        try Self.encode(gpio, .gpio, &container)
        try container.encode(realtime, forKey: .realtime)
    }

    private static func encode<T: Encodable>(
        _ result: Result<T, any Error>, _ key: CodingKeys, _ container: inout KeyedEncodingContainer<CodingKeys>
    ) throws {
        switch result {
        case .success(let value): try container.encode(value, forKey: key)
        case .failure(let error): try container.encode(["error": "\(error)"], forKey: key)
        }
    }

    func printText() {
        print("ZeroMQ")
        switch zeromq {
        case .success(let z):
            print("  libzmq \(z.libzmq), CURVE \(z.curve ? "available" : "missing")")
            print("  PUB→SUB over \(z.endpoint): \(z.received)/\(z.sent) messages received in order")
            print("  latency: median \(z.medianLatency), p99 \(z.p99Latency), max \(z.maxLatency)")
        case .failure(let error):
            print("  FAILED: \(error)")
        }
        print("USB")
        switch usb {
        case .success(let devices) where devices.isEmpty: print("  no devices")
        case .success(let devices):
            for d in devices {
                print("  bus \(d.bus) address \(d.address): \(d.id) \(d.manufacturer ?? "?") \(d.product ?? "?")")
            }
        case .failure(let error): print("  unavailable: \(error)")
        }
        print("GPIO")
        switch gpio {
        case .success(let chips) where chips.isEmpty: print("  no chips")
        case .success(let chips):
            for c in chips {
                if let error = c.error { print("  \(c.name): \(error)") }
                else { print("  \(c.name) [\(c.label ?? "")]: \(c.lines ?? 0) lines") }
            }
        case .failure(let error): print("  unavailable: \(error)")
        }
        print("Real time")
        print("  SCHED_FIFO priority 80: \(realtime.fifoPriority80)")
        print("  mlockall: \(realtime.lockMemory)")
        print("  /dev/cpu_dma_latency: \(realtime.cpuDMALatency)")
    }
}
