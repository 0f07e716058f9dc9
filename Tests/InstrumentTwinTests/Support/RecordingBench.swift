import Emulator
import HAL
import Synchronization

/// A qubit bench for instrument tests: it records every program a generator plays, and hands readouts the
/// records a test queues (in order, whatever the readout's id).
final class RecordingBench: QubitBench {
    struct Play: Equatable {
        var program: PulseProgram
        var generator: String
        var shots: Int
    }

    private let log = Mutex<[Play]>([])
    private let records = Mutex<[MeasurementRecord]>([])

    var plays: [Play] { log.withLock { $0 } }

    func play(_ program: PulseProgram, generator: String, shots: Int) {
        log.withLock { $0.append(Play(program: program, generator: generator, shots: shots)) }
    }

    /// Queues records for the next readout that takes some.
    func queue(_ more: [MeasurementRecord]) {
        records.withLock { $0 += more }
    }

    func takeRecords(readout: String, maximum: Int) -> [MeasurementRecord] {
        records.withLock { queue in
            let taken = Array(queue.prefix(max(0, maximum)))
            queue.removeFirst(taken.count)
            return taken
        }
    }

    func pendingRecords(readout: String) -> Int {
        records.withLock { $0.count }
    }
}
