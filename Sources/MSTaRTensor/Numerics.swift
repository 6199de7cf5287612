import Foundation

/// How the engine computes its floating-point results.
public enum NumericsMode: String, CaseIterable, Sendable {
    /// The engine's own kernels: the same bits on every x86-64 CPU with AVX2 and FMA, at any thread
    /// count (the default).
    case portable
    /// OpenBLAS for matrix products: its kernels are chosen for the CPU it detects, so the last bits
    /// of every result depend on the machine (and the thread count).
    case openblas
}

/// What computes, and on what: the numerics mode, the matrix-product kernel and its vector width,
/// and the CPU. `mstar --version`, `mstar bench --json` and journals report it.
public enum Numerics {
    /// The mode in effect (a pinned workbench setting, `numerics`).
    nonisolated(unsafe) public static var mode = NumericsMode.portable

    /// The CPU's feature flags (Linux: /proc/cpuinfo), read once.
    static let cpu: (model: String, flags: Set<String>) = {
        guard let text = try? InputFile.text("/proc/cpuinfo", limit: 16 << 20) else { return ("unknown", []) }
        var fields: [String: String] = [:]
        // The first processor's block is enough: every core of a machine is alike.
        for line in InputFile.lines(text) {
            if line.isEmpty && !fields.isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            fields[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        // A virtual machine may name only the product line ("AMD EPYC"): the family and model say which.
        let model = "\(fields["model name"] ?? "unknown") (family \(fields["cpu family"] ?? "?"), model \(fields["model"] ?? "?"))"
        return (model, Set((fields["flags"] ?? "").split(separator: " ").map(String.init)))
    }()

    /// The CPU's name, as the system reports it.
    public static var cpuModel: String { cpu.model }

    /// Whether the CPU has 512-bit vectors (AVX-512F): the matrix product then uses 16-lane tiles.
    public static var wideVectors: Bool { cpu.flags.contains("avx512f") }

    /// Whether the CPU has the instructions the portable kernels are made for (AVX2 and FMA).
    public static var hasAVX2FMA: Bool { cpu.flags.contains("avx2") && cpu.flags.contains("fma") }

    nonisolated(unsafe) private static var _vectorWidth = wideVectors ? 16 : 8

    /// Lanes of the matrix product's vectors: 16 where the CPU has AVX-512, else 8. Settable to 8 or
    /// 16 anywhere (16 on AVX2 runs as pairs of 8-lane vectors): the bits are the same either way,
    /// which the tests and `mstar probe --vector-width` show.
    public static var vectorWidth: Int {
        get { _vectorWidth }
        set { _vectorWidth = newValue == 16 ? 16 : 8 }
    }

    /// Whether this binary was built for a generic x86-64 (MSTAR_TARGET_CPU=generic): then each
    /// fused multiply-add is a libm call, with the same bits but far slower.
    public static var genericBuild: Bool {
        #if MSTAR_GENERIC_BUILD
        return true
        #else
        return false
        #endif
    }

    /// The matrix-product kernel in use, e.g. "mstar 6x32 (AVX-512)" or "OpenBLAS Haswell".
    public static var kernel: String {
        switch mode {
        case .portable:
            let isa = genericBuild ? "generic x86-64, fma by libm" : wideVectors ? "AVX-512" : hasAVX2FMA ? "AVX2+FMA" : "no AVX2: fma by libm"
            // The tile is named by the vectors it uses, the ISA by what the CPU has.
            return "mstar 6x\(2 * vectorWidth) (\(isa))"
        case .openblas:
            return "OpenBLAS \(Runtime.blasKernel)"
        }
    }

    /// A warning when the portable kernels cannot use the instructions they are made for (a generic
    /// build, or a CPU without AVX2 and FMA): the bits are the same, each multiply-add a libm call.
    public static var slowPathWarning: String? {
        guard mode == .portable, genericBuild || !hasAVX2FMA else { return nil }
        return "mstar: " + (genericBuild ? "this build is for a generic x86-64 (MSTAR_TARGET_CPU=generic)" : "this CPU has no AVX2 and FMA")
            + ": the matrix products compute the same bits with a libm call per multiply-add, far slower; build natively for speed"
    }

    /// Prints `slowPathWarning` to stderr, once per process: the engine never runs a slow path silently.
    public static func warnIfSlow() {
        guard !warned, let w = slowPathWarning else { return }
        warned = true
        FileHandle.standardError.write(Data((w + "\n").utf8))
    }
    nonisolated(unsafe) private static var warned = false

    /// One line: mode, kernel, vector width and CPU.
    public static var summary: String {
        "numerics \(mode.rawValue): \(kernel), vector width \(mode == .portable ? vectorWidth : 0), CPU \(cpuModel)"
    }
}
