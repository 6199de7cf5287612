import MSTaRTensor

/// Which handwriting pool a scene draws its digit images from; the pools share no image.
public enum HandwritingPool: String, Sendable, CaseIterable, Codable {
    case train, validation, test
}

/// A seeded partition of the digit images into disjoint train / validation / test pools, per digit.
public struct HandwritingSplit: Sendable, Equatable {
    /// Fraction of each digit's images in the train pool.
    public static let trainFraction = 0.7
    /// Fraction of each digit's images in the validation pool (the test pool takes the rest).
    public static let validationFraction = 0.1

    /// pools[pool][digit] = indices into the bank, in a seeded random order.
    private let pools: [HandwritingPool: [[Int]]]

    /// Splits `bank` with a generator derived from `seed`; every digit keeps at least one image per pool.
    public init(bank: DigitBank, seed: UInt64) throws {
        var rng = RNG(seed: seed, stream: 0x4841_4E44)  // "HAND"
        var train = [[Int]](), validation = [[Int]](), test = [[Int]]()
        for (digit, indices) in bank.indicesByDigit().enumerated() {
            guard indices.count >= 3 else {
                throw TasksError.invalid("digit bank has \(indices.count) images of \(digit); each digit needs at least 3")
            }
            var shuffled = indices
            rng.shuffle(&shuffled)
            let n = shuffled.count
            let nTrain = min(n - 2, max(1, Int((Double(n) * Self.trainFraction).rounded())))
            let nVal = min(n - nTrain - 1, max(1, Int((Double(n) * Self.validationFraction).rounded())))
            train.append(Array(shuffled[0..<nTrain]))
            validation.append(Array(shuffled[nTrain..<(nTrain + nVal)]))
            test.append(Array(shuffled[(nTrain + nVal)...]))
        }
        pools = [.train: train, .validation: validation, .test: test]
    }

    /// Bank indices of the images of `digit` in `pool`.
    public func images(of digit: Int, in pool: HandwritingPool) -> [Int] { pools[pool]![digit] }

    /// Every bank index in `pool`, sorted.
    public func allImages(in pool: HandwritingPool) -> [Int] { pools[pool]!.flatMap { $0 }.sorted() }

    /// A random image of `digit` from `pool`.
    public func pick(_ digit: Int, from pool: HandwritingPool, rng: inout RNG) -> Int {
        let candidates = pools[pool]![digit]
        return candidates[rng.int(below: candidates.count)]
    }
}
