import HAL

/// What one measurement window found, as the readout resonator reports it: one integrated IQ point per
/// qubit the readout reads (shot noise and assignment errors included), in the order the profile lists them.
public struct MeasurementRecord: Sendable, Hashable {
    /// The shot (trigger) the window belongs to, counted from 0 since the bench was built.
    public var shot: Int
    /// The window's index within its shot.
    public var window: Int
    /// The qubits' projected states (true: |1⟩), before readout errors: the emulator's ground truth.
    public var projected: [Bool]
    /// What the resonator returned for each qubit, in volts after integration.
    public var points: [IQPoint]

    public init(shot: Int, window: Int, projected: [Bool], points: [IQPoint]) {
        self.shot = shot
        self.window = window
        self.projected = projected
        self.points = points
    }
}

/// The bench between the emulated instruments and the qubits: generators hand it what they play, it
/// evolves the qubits their channels drive, and readouts take the records their trigger markers caused.
/// The bench knows nothing of sequences: it sees samples, markers and repeats.
public protocol QubitBench: AnyObject, Sendable {
    /// Plays `program` from generator `generator`, `shots` times: pulses on channels wired to qubits act
    /// on them, and each rising edge of a marker wired to a readout measures that readout's qubits and
    /// queues a record for it.
    func play(_ program: PulseProgram, generator: String, shots: Int)
    /// Removes and returns up to `maximum` queued records of readout `readout`, oldest first.
    func takeRecords(readout: String, maximum: Int) -> [MeasurementRecord]
    /// How many records are queued for readout `readout`.
    func pendingRecords(readout: String) -> Int
}
