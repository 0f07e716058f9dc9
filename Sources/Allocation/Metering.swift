import Quantities

/// Metered use of one resource by one allocation.
public struct UsageRow: Codable, Equatable, Sendable {
    public let client: String
    public let purpose: Purpose
    public let allocation: String
    public let resource: String
    public let node: String
    public let type: ParticleType
    /// Time held, in resource-seconds (qubit-seconds for qubits).
    public let qubitSeconds: Double
    /// The resource's share of its node's cooling and control energy while held.
    public let energyJoules: Double
}

/// Usage summed over rows with the same key.
public struct UsageTotal: Codable, Equatable, Sendable {
    public let key: String
    public let qubitSeconds: Double
    public let energyJoules: Double

    public init(key: String, qubitSeconds: Double, energyJoules: Double) {
        self.key = key
        self.qubitSeconds = qubitSeconds
        self.energyJoules = energyJoules
    }
}

/// What was used, by whom and for what, up to a time.
public struct UsageReport: Codable, Equatable, Sendable {
    @RFC3339Coded public var at: Timestamp
    /// One row per allocation and resource, in allocation then resource order.
    public let rows: [UsageRow]
    public let byClient: [UsageTotal]
    public let byPurpose: [UsageTotal]
    public let byResource: [UsageTotal]
    /// Energy each node drew that no allocation held resources for.
    public let idleEnergyByNode: [UsageTotal]

    /// The rows as CSV with a header line; numbers as Swift prints Doubles (shortest exact form).
    public var csv: String {
        var lines = ["client,purpose,allocation,resource,node,type,qubit_seconds,energy_joules"]
        for row in rows {
            let fields = [row.client, row.purpose.rawValue, row.allocation, row.resource, row.node, row.type.description,
                          "\(row.qubitSeconds)", "\(row.energyJoules)"]
            lines.append(fields.map(Self.escaped).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field, quoted when it holds a comma, quote or line break.
    private static func escaped(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return field }
        return "\"" + String(field.flatMap { $0 == "\"" ? "\"\"" : String($0) }) + "\""
    }
}

extension AllocationState {
    /// Usage of every allocation up to `time` (not before the state's clock): resource-seconds held, and
    /// energy apportioned from the nodes' reported power (a node drawing P watts with N resources in
    /// service gives each held resource P/N).
    public func usageReport(at time: Timestamp) throws(AllocationError) -> UsageReport {
        guard time >= clock else { throw .outOfOrder(eventTime: time, stateTime: clock) }
        var state = self
        state.advance(to: time)
        var rows: [UsageRow] = []
        for allocation in state.allocations {
            for meter in allocation.meters {
                let held = meter.heldNanoseconds(upTo: time)
                guard held > 0 || meter.energyJoules > 0 else { continue }
                rows.append(UsageRow(
                    client: allocation.client, purpose: allocation.purpose, allocation: allocation.id,
                    resource: meter.resource, node: meter.node, type: meter.type, qubitSeconds: Double(held) / 1e9,
                    energyJoules: meter.energyJoules))
            }
        }
        return UsageReport(
            at: time, rows: rows,
            byClient: totals(rows, by: \.client),
            byPurpose: totals(rows, by: \.purpose.rawValue),
            byResource: totals(rows, by: \.resource),
            idleEnergyByNode: state.idleEnergy.keys.map {
                UsageTotal(key: $0, qubitSeconds: 0, energyJoules: state.idleEnergy[$0]!)
            })
    }

    /// Sums of rows grouped by `key`, in key order; each sum is taken in row order.
    private func totals(_ rows: [UsageRow], by key: (UsageRow) -> String) -> [UsageTotal] {
        let keys = Set(rows.map(key)).sorted()
        return keys.map { name in
            let group = rows.filter { key($0) == name }
            return UsageTotal(key: name, qubitSeconds: group.reduce(0) { $0 + $1.qubitSeconds },
                              energyJoules: group.reduce(0) { $0 + $1.energyJoules })
        }
    }
}
