// Validates Kubernetes objects against the API's OpenAPI schemas that the kubernetes-models
// package carries (npm install in this directory). Reads a JSON array of objects on stdin and
// prints one line per object: "ok KIND NAME" or "invalid KIND NAME: what"; exits 1 if any is
// invalid or of a kind this script does not know.
import { readFileSync } from "node:fs";

const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "policy/v1": "kubernetes-models/policy/v1",
};

let failed = false;
for (const obj of JSON.parse(readFileSync(0, "utf8"))) {
  const what = `${obj.kind} ${obj.metadata?.name}`;
  const path = modules[obj.apiVersion];
  const model = path && (await import(path))[obj.kind];
  if (!model) {
    console.log(`invalid ${what}: no schema for ${obj.apiVersion} ${obj.kind}`);
    failed = true;
    continue;
  }
  try {
    new model(obj).validate();
    console.log(`ok ${what}`);
  } catch (e) {
    console.log(`invalid ${what}: ${e.message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
