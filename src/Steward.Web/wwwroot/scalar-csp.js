// Loaded before Scalar's bundle on /api/docs. Zod (inside the bundle) probes for eval support with Function(""), which the
// app's Content-Security-Policy rightly blocks and reports; "jitless" tells Zod not to try (validation works the same).
globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig ?? {}, { jitless: true });
