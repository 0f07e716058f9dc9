import HAL

/// A heater output acting on one stage, with the Lake Shore 372 semantics: a range sets the full-scale
/// current, power is I²R·(output fraction)², and the output comes from the mode: manual (open loop),
/// closed-loop PID on a control stage's temperature, still (a fixed percentage) or warm-up.
///
/// Closed loop (372 manual §2.8 and the PID command): with error e = setpoint − T in kelvin, the output
/// fraction of full-scale current is u = P·(e + (1/I)∫e dt + D·de/dt), clamped to 0…1 — P is the gain
/// (0–1000), I the integral (reset) time in seconds (0–10000, 0 disables the integral) and D the
/// derivative time in seconds (0–2500). The integral stops growing while the output is saturated
/// (anti-windup). With ramping on, the working setpoint moves towards the target at `rampKelvinPerMinute`.
public struct HeaterLoop: Sendable, Hashable {
    /// The stage the heater is mounted on.
    public var stage: StageID
    /// The stage whose thermometer closes the loop.
    public var controlStage: StageID
    public var mode: HeaterMode = .off
    /// Heater resistance in ohms.
    public var resistance: Double
    /// Full-scale current of the selected range in amperes; 0 is off.
    public var fullScaleCurrent: Double = 0
    /// Output in open-loop (manual) or still mode, in percent.
    public var manualPercent: Double = 0
    /// The target setpoint in K.
    public var setpoint: Double = 0
    /// The working setpoint, which follows `setpoint` at the ramp rate when ramping is on.
    public private(set) var workingSetpoint: Double = 0
    public var rampEnabled = false
    public var rampKelvinPerMinute: Double = 0
    public var gains = PIDGains(proportional: 2, integral: 20, derivative: 0)
    /// The closed-loop (or warm-up) controller's output, in percent.
    private var controllerPercent: Double = 0
    private var integral: Double = 0
    private var lastError: Double?

    public init(stage: StageID, controlStage: StageID, resistance: Double) {
        self.stage = stage
        self.controlStage = controlStage
        self.resistance = resistance
    }

    /// The output, in percent of full-scale current.
    public var outputPercent: Double {
        guard fullScaleCurrent > 0 else { return 0 }
        switch mode {
        case .off, .monitorOut: return 0
        case .openLoop, .still: return manualPercent.isFinite ? min(max(manualPercent, 0), 100) : 0
        case .warmUp, .closedLoop, .zone: return controllerPercent
        }
    }

    /// Power into the stage, in watts: (I·u)²R; 0 when a non-finite current or resistance would make it
    /// infinite or NaN (the thermal model must never see a non-finite power).
    public var power: Double {
        let current = fullScaleCurrent * outputPercent / 100
        let watts = current * current * resistance
        return watts.isFinite ? watts : 0
    }

    /// Whether the working setpoint is still moving towards the target.
    public var isRamping: Bool {
        rampEnabled && rampKelvinPerMinute > 0 && workingSetpoint != setpoint
    }

    /// Sets a new target; without ramping the working setpoint jumps to it.
    public mutating func setSetpoint(_ kelvin: Double, currentTemperature: Double) {
        if rampEnabled && rampKelvinPerMinute > 0 {
            if workingSetpoint == 0 { workingSetpoint = currentTemperature }
        } else {
            workingSetpoint = kelvin
        }
        setpoint = kelvin
    }

    /// Clears the controller's memory (after a mode or range change).
    public mutating func resetController() {
        integral = 0
        lastError = nil
    }

    /// Updates the output for the next `dt` seconds, given the control stage's temperature.
    mutating func update(controlTemperature t: Double, dt: Double) {
        if isRamping {
            let step = rampKelvinPerMinute / 60 * dt
            let gap = setpoint - workingSetpoint
            workingSetpoint = abs(gap) <= step ? setpoint : workingSetpoint + (gap > 0 ? step : -step)
        } else if !(rampEnabled && rampKelvinPerMinute > 0) {
            workingSetpoint = setpoint
        }
        guard fullScaleCurrent > 0 else {
            controllerPercent = 0
            return
        }
        switch mode {
        case .off, .monitorOut, .openLoop, .still:
            controllerPercent = 0
        case .warmUp:
            controllerPercent = t < workingSetpoint ? 100 : 0
        case .closedLoop, .zone:
            let error = workingSetpoint - t
            let p = gains.proportional
            let derivative = lastError.map { (error - $0) / dt } ?? 0
            lastError = error
            let integralTerm = gains.integral > 0 ? integral / gains.integral : 0
            var u = p * (error + integralTerm + gains.derivative * derivative)
            let saturatedHigh = u >= 1 && error > 0
            let saturatedLow = u <= 0 && error < 0
            if gains.integral > 0 && !saturatedHigh && !saturatedLow {
                integral += error * dt
                u = p * (error + integral / gains.integral + gains.derivative * derivative)
            }
            // A non-finite setpoint or gain makes the output NaN or infinite: the controller then
            // outputs nothing and forgets its history, so the next finite setpoint starts afresh.
            guard u.isFinite, integral.isFinite else {
                resetController()
                controllerPercent = 0
                return
            }
            controllerPercent = min(max(u, 0), 1) * 100
        }
    }
}

/// Full-scale currents of the Lake Shore 372 sample-heater ranges 0–8 (RANGE command): off, 31.6 µA,
/// 100 µA, 316 µA, 1 mA, 3.16 mA, 10 mA, 31.6 mA, 100 mA (372 manual §6.6.1, RANGE).
public let lakeShore372SampleHeaterRanges: [Double] = [0, 31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3]
