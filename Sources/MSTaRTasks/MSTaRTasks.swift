// The task suite: handwritten-digit scenes, task families, chain-of-thought grammar and verifiers.
//
// Entry points: `DigitBank.load()` reads the vendored handwriting, `TaskSuite(seed:sizes:bank:)` builds
// every split from one seed, `Tokenizer.standard` maps text to ids, `AnswerExtractor` and
// `StepVerifier` score generated chains, `PNG` and `JSONL` move data in and out. See docs/tasks.md.
