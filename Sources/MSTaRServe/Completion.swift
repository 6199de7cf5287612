import Foundation
import MSTaRModel
import MSTaRTasks

/// How a request's samples are seeded and how they become OpenAI choices.
///
/// Every `Sampler.generate` call has the same seed, `callSeed`, and a request's seed is its
/// prompt's stream, so sample j of a request draws from `Sampler.sampleRNG(seed: callSeed,
/// stream: request seed, sample: j)`: it depends on the request's seed, prompt and parameters
/// only, never on which other requests share the call. (Making the request's seed the call's seed
/// would do the same alone, but then requests with different seeds could not share a call.)
public enum ServeSampling {
    /// The seed of every generate call.
    public static let callSeed: UInt64 = 0

    /// The choices of `request` from its rollouts: each one's content is its words up to `<eos>`,
    /// cut before the first stop string (finish_reason "stop"; tokens, log-probs and token ids then
    /// end with the token that completed it); "length" when the token limit ended it. With each
    /// choice, the number of tokens it kept.
    public static func choices(_ rollouts: [Rollout], for request: GenerationRequest,
                               tokenizer: Tokenizer = .standard) -> [(choice: ChatCompletionResponse.Choice, tokens: Int)] {
        rollouts.enumerated().map { i, r in
            var text = "", kept = r.tokens.count, stopped = false, content: String?
            for (t, id) in r.tokens.enumerated() {
                if id == tokenizer.eos { kept = t + 1; break }
                if tokenizer.isSpecial(id) { continue }
                text += (text.isEmpty ? "" : " ") + tokenizer.words[id]
                if let cut = request.stop.compactMap({ text.range(of: $0)?.lowerBound }).min() {
                    content = String(text[..<cut]); kept = t + 1; stopped = true
                    break
                }
            }
            let tokens = Array(r.tokens.prefix(kept))
            let logprobs = request.logprobs
                ? ChatCompletionResponse.ChoiceLogprobs(content: zip(tokens, r.logProbs).map { id, lp in
                    let word = tokenizer.words[id]
                    return .init(token: word, logprob: lp, bytes: Array(word.utf8))
                }) : nil
            let choice = ChatCompletionResponse.Choice(
                index: i, message: .init(content: content ?? text), logprobs: logprobs,
                finish_reason: stopped || r.finished ? "stop" : "length",
                token_ids: request.returnTokenIDs ? tokens : nil, mean_entropy: request.returnEntropy ? r.meanEntropy : nil)
            return (choice, kept)
        }
    }

    /// The whole response to `request`. Usage counts text tokens: the prompt's ids (with
    /// `<bos>`, `<image>` and `<response>`) and each choice's kept tokens (`<eos>` counts, as in vLLM).
    public static func response(_ rollouts: [Rollout], for request: GenerationRequest, model: String, id: String,
                                created: Int, tokenizer: Tokenizer = .standard) -> ChatCompletionResponse {
        let built = choices(rollouts, for: request, tokenizer: tokenizer)
        let completion = built.reduce(0) { $0 + $1.tokens }
        let promptTokens = request.prompt.prompt.count
        return ChatCompletionResponse(id: id, created: created, model: model, choices: built.map(\.choice),
                                      usage: Usage(prompt_tokens: promptTokens, completion_tokens: completion,
                                                   total_tokens: promptTokens + completion))
    }
}
