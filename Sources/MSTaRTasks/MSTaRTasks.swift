// The task suite: handwritten-digit scenes, task families, chain-of-thought grammar and verifiers.
import MSTaRTensor
