// Module resolution hook: every `weavelet:node/...` import is the mock host.
const MOCK = new URL('./mock-host.js', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier.startsWith('weavelet:node/')) return { url: MOCK, shortCircuit: true };
  return next(specifier, context);
}
