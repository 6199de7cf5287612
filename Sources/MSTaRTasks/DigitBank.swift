import Foundation
import MSTaRTensor

/// The UCI handwritten digits: 1,797 grey 8x8 images (pixel values 0...16) with their labels.
public struct DigitBank: Sendable, Equatable {
    /// Side of one digit image in pixels.
    public static let side = 8
    /// The environment variable that names the data file explicitly.
    public static let environmentVariable = "MSTAR_DIGITS"
    /// Path of the data file inside the repository.
    public static let relativePath = "data/digits.csv.gz"

    /// Pixel values 0...16, 64 per image, row-major.
    public let pixels: [[UInt8]]
    /// The digit each image shows, 0...9.
    public let labels: [Int]
    /// Where the images were read from.
    public let source: String

    /// Number of images.
    public var count: Int { labels.count }

    /// Builds a bank from rows already in memory; every image must have 64 values in 0...16.
    public init(pixels: [[UInt8]], labels: [Int], source: String = "memory") throws {
        guard pixels.count == labels.count else {
            throw TasksError.invalid("digit bank: \(pixels.count) images but \(labels.count) labels")
        }
        for (i, p) in pixels.enumerated() {
            guard p.count == 64, p.allSatisfy({ $0 <= 16 }), (0...9).contains(labels[i]) else {
                throw TasksError.invalid("digit bank: image \(i) must have 64 values in 0...16 and a label 0...9")
            }
        }
        self.pixels = pixels
        self.labels = labels
        self.source = source
    }

    /// Loads the digits from `path`, or else from the first place `locate()` finds.
    public static func load(path: String? = nil) throws -> DigitBank {
        let file = try path ?? locate()
        let data: Data
        do { data = try InputFile.read(file, limit: InputFile.datasetLimit) } catch {
            throw TasksError.missingData("cannot read the digits file \(file) (\(error)); pass another path or set \(environmentVariable)")
        }
        let raw = file.hasSuffix(".gz") ? try Zlib.inflate([UInt8](data), gzip: true, limit: InputFile.datasetLimit) : [UInt8](data)
        guard let text = String(bytes: raw, encoding: .utf8) else {
            throw TasksError.invalid("\(file): not UTF-8 text")
        }
        var pixels = [[UInt8]](), labels = [Int]()
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            // scikit-learn writes integers; accept "5.0" too.
            let values = fields.compactMap { f -> Int? in
                let s = f.trimmingCharacters(in: .whitespaces)
                if let i = Int(s) { return i }
                if let d = Double(s), d == d.rounded() { return Int(d) }
                return nil
            }
            guard fields.count == 65, values.count == 65, values[0..<64].allSatisfy({ (0...16).contains($0) }),
                  (0...9).contains(values[64]) else {
                throw TasksError.invalid("\(file):\(n + 1): expected 64 pixel values 0..16 and a label 0..9, "
                    + "got \(fields.count) fields")
            }
            pixels.append(values[0..<64].map { UInt8($0) })
            labels.append(values[64])
        }
        guard !labels.isEmpty else { throw TasksError.invalid("\(file): no images") }
        return try DigitBank(pixels: pixels, labels: labels, source: file)
    }

    /// The places searched for the data file, in order: $MSTAR_DIGITS, data/ in the current directory
    /// and its parents, then the checkout this library was compiled from.
    public static func candidatePaths() -> [String] {
        var paths = [String]()
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty { paths.append(env) }
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<8 {
            paths.append(dir.appendingPathComponent(relativePath).path)
            let up = dir.deletingLastPathComponent()
            if up.path == dir.path { break }
            dir = up
        }
        // Sources/MSTaRTasks/DigitBank.swift -> the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        paths.append(root.appendingPathComponent(relativePath).path)
        return paths
    }

    /// The first existing candidate path, or an error that says where it looked and what to do.
    public static func locate() throws -> String {
        let paths = candidatePaths()
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty {
            guard FileManager.default.fileExists(atPath: env) else {
                throw TasksError.missingData("\(environmentVariable)=\(env) names no file; point it at digits.csv.gz")
            }
            return env
        }
        if let found = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw TasksError.missingData("""
            handwritten digits not found: looked for \(relativePath) in \(paths.joined(separator: ", ")). \
            Run mstar from its checkout (the file is vendored there), set \(environmentVariable)=/path/to/digits.csv.gz, \
            or pass the path explicitly (--digits PATH). The file is sklearn/datasets/data/digits.csv.gz from the \
            scikit-learn wheel; see data/NOTICE.
            """)
    }

    /// Indices of the images of each digit 0...9, in file order.
    public func indicesByDigit() -> [[Int]] {
        var by = [[Int]](repeating: [], count: 10)
        for (i, l) in labels.enumerated() { by[l].append(i) }
        return by
    }
}
