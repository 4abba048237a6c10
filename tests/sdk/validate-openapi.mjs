// Validates latchkey's OpenAPI document with a standard validator
// (@apidevtools/swagger-parser: the OpenAPI 3.1 JSON schema, then $refs and
// the spec's rules). CI runs it; so can you: node tests/sdk/validate-openapi.mjs
import SwaggerParser from '@apidevtools/swagger-parser';
import { fileURLToPath } from 'node:url';

const file = process.argv[2] ?? fileURLToPath(new URL('../../internal/httpapi/openapi.yaml', import.meta.url));
try {
  const api = await SwaggerParser.validate(file);
  const ops = Object.values(api.paths).flatMap((item) =>
    Object.keys(item).filter((k) => ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(k)));
  if (!api.openapi.startsWith('3.1.')) throw new Error(`openapi is ${api.openapi}, want 3.1.x`);
  console.log(`${file}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths, ${ops.length} operations`);
} catch (err) {
  console.error(`${file}: ${err.message}`);
  process.exit(1);
}
