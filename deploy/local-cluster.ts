/**
 * Applies deploy/ to the single-node cluster of scripts/local-kubernetes.sh, with this cluster's overrides (the
 * "overlay", in code rather than kustomize; deploy/README.md, "On the local cluster"):
 *
 * - the image: the one deploy/local-image.sh pushed (argument 2, default 127.0.0.1:15000/slipway:local);
 * - PostgreSQL: one outside the cluster on the node address (argument 3, a URL); postgres.yaml is not applied
 *   (its image comes from Docker Hub, which is not reachable here);
 * - the API server: this cluster mounts no service-account token in Pods (the ServiceAccount admission plugin
 *   is off) and its API server listens on 127.0.0.1 only, so the replicas get a kubeconfig (a Secret) naming
 *   the node address, which the caller forwards to the API server, and a client certificate for the user
 *   system:serviceaccount:slipway-system:slipway, so that rbac.yaml's binding is what authorizes them;
 * - slipway-config: generated (admin token, a shared sealing key, the domain, the projects' namespace prefix
 *   slipway-local-), no registry (no builds here).
 *
 *   node --import tsx deploy/local-cluster.ts <admin kubeconfig> [image] [database url] [kubeconfig for the Pods]
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const [adminKubeconfig, image = '127.0.0.1:15000/slipway:local', databaseUrl = 'postgres://slipway:change-me@10.244.0.1:15432/slipway', podKubeconfig] = process.argv.slice(2);
if (!adminKubeconfig || !podKubeconfig) {
  console.error('usage: local-cluster.ts <admin kubeconfig> <image> <database url> <kubeconfig for the Pods>');
  process.exit(2);
}
const kc = new k8s.KubeConfig();
kc.loadFromFile(adminKubeconfig);
const client = k8s.KubernetesObjectApi.makeApiClient(kc);

type Obj = k8s.KubernetesObject & { spec?: any; stringData?: Record<string, string> };
const load = (file: string): Obj[] => k8s.loadAllYaml(fs.readFileSync(path.join(here, file), 'utf8')).filter(Boolean);

const stateFile = process.env.SLIPWAY_LOCAL_DEPLOY_STATE ?? '/tmp/slipway-local-deploy.json';
// The same token and sealing key on every run: a changed key would be refused by the database of the last run.
const state: { adminToken: string; secretKey: string } = fs.existsSync(stateFile)
  ? JSON.parse(fs.readFileSync(stateFile, 'utf8'))
  : { adminToken: crypto.randomBytes(24).toString('hex'), secretKey: crypto.randomBytes(32).toString('base64') };
fs.writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });

const config: Obj = load('config.example.yaml')[0];
Object.assign(config.stringData!, {
  SLIPWAY_DATABASE_URL: databaseUrl,
  SLIPWAY_ADMIN_TOKEN: state.adminToken,
  SLIPWAY_SECRET_KEY: state.secretKey,
  SLIPWAY_DOMAIN: 'apps.local.test',
  SLIPWAY_KUBECONFIG: '/etc/slipway/kube/kubeconfig',
  // projects' namespaces apart from the slipway-* ones the cluster's tests make (local-cluster.sh down deletes them)
  SLIPWAY_KUBERNETES_NAMESPACE_PREFIX: 'slipway-local-',
});
for (const k of ['SLIPWAY_REGISTRY', 'SLIPWAY_REGISTRY_USERNAME', 'SLIPWAY_REGISTRY_PASSWORD', 'SLIPWAY_KUBERNETES_BASE_IMAGE']) delete config.stringData![k];

const kubeSecret: Obj & { stringData: Record<string, string> } = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'slipway-kubeconfig', namespace: 'slipway-system' },
  stringData: { kubeconfig: fs.readFileSync(podKubeconfig, 'utf8') },
} as any;

function overlay(obj: Obj): Obj {
  if (obj.kind !== 'Deployment') return obj;
  const pod = obj.spec.template.spec;
  for (const c of pod.containers) {
    c.image = image;
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: 'kube', mountPath: '/etc/slipway/kube', readOnly: true }];
  }
  pod.volumes = [...(pod.volumes ?? []), { name: 'kube', secret: { secretName: 'slipway-kubeconfig' } }];
  return obj;
}

async function apply(obj: Obj): Promise<void> {
  const what = `${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata?.name}`;
  try {
    const current = await client.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata!.name!, namespace: obj.metadata!.namespace } } as any);
    obj.metadata!.resourceVersion = current.metadata?.resourceVersion;
    if (obj.kind === 'Service') {
      // what the API server allocated stays (it refuses a change)
      const cur = (current as any).spec;
      Object.assign(obj.spec, { clusterIP: cur.clusterIP, clusterIPs: cur.clusterIPs, healthCheckNodePort: cur.healthCheckNodePort });
      for (const port of obj.spec.ports) port.nodePort = cur.ports.find((p: any) => p.name === port.name)?.nodePort;
    }
    await client.replace(obj);
    console.log(`${what} replaced`);
  } catch (err: any) {
    if (err?.code !== 404) throw err;
    delete obj.metadata!.resourceVersion;
    await client.create(obj);
    console.log(`${what} created`);
  }
}

const objects: Obj[] = [...load('namespace.yaml'), ...load('rbac.yaml'), config, kubeSecret, ...load('control-plane.yaml').map(overlay), ...load('router.yaml').map(overlay)];
for (const obj of objects) {
  // a conflict: the object changed between the read and the replace (a disruption budget's status does often)
  for (let attempt = 1; ; attempt++) {
    try {
      await apply(structuredClone(obj));
      break;
    } catch (err: any) {
      if (err?.code !== 409 || attempt === 5) throw err;
    }
  }
}
console.log(`admin token: ${state.adminToken} (also in ${stateFile})`);
