// llama.cpp side of the Steward.LocalModels benchmark (run by the C# bench as a child process).
// Usage: node bench.mjs <model.gguf> <threads> <prompt-ids comma separated> <tokens to generate> [runs]
// Prints one JSON object: prompt processing and generation speeds in tokens/s and the generated ids.
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, promptArg, genArg, runsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const prompt = promptArg.split(",").map(Number);
const genCount = Number(genArg);
const runs = Number(runsArg ?? 2);

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
    contextSize: Math.max(512, prompt.length + genCount + 16),
    batchSize: Math.max(512, prompt.length),
    threads: {ideal: threads, min: threads},
    sequences: 1
});
const sequence = context.getSequence();

async function promptProcessing() {
    await sequence.clearHistory();
    const start = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    return prompt.length / ((performance.now() - start) / 1000);
}

async function generation() {
    await sequence.clearHistory();
    const ids = [];
    let first = 0;
    for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
        ids.push(token);
        if (ids.length === 1) first = performance.now();
        if (ids.length >= genCount + 1) break;
    }
    const seconds = (performance.now() - first) / 1000;
    return {speed: (ids.length - 1) / seconds, ids: ids.slice(0, genCount)};
}

await promptProcessing(); // warm-up: page in the weights
let pp = 0, tg = 0, ids = [];
for (let i = 0; i < runs; i++) {
    pp = Math.max(pp, await promptProcessing());
    const g = await generation();
    if (g.speed > tg) { tg = g.speed; ids = g.ids; }
}

// Peak resident memory of this process (node's own ~50 MB included), in bytes.
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({engine: "llama.cpp", threads, promptTokens: prompt.length, promptTokensPerSecond: pp, generatedTokens: ids.length, generationTokensPerSecond: tg, ids, peakRssBytes}));
await context.dispose();
await model.dispose();
await llama.dispose();
