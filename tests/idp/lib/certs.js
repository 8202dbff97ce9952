// Test PKI generated with the openssl CLI into the instance's state dir at first start:
//   ca.pem/ca.key                  the test CA clients trust (CA_FILE)
//   server.pem/server.key          127.0.0.1 (IP SAN) + localhost, signed by the test CA
//   wrong-ca.pem/wrong-ca.key      a second, independent CA
//   wrong-ca-server.pem/.key       127.0.0.1 + localhost, signed by the WRONG CA
//   wrong-host.pem/.key            wrong.example.invalid only, signed by the right CA
//   expired.pem/.key               127.0.0.1 + localhost, right CA, validity in the past
//   self-signed.pem/.key           127.0.0.1 + localhost, self-signed
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function ossl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newCA(dir, name, cn) {
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

function leafExt(dir, name, san) {
  const f = `${name}.ext`;
  fs.writeFileSync(path.join(dir, f), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  return f;
}

function newLeaf(dir, name, ca, cn, san) {
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  const ext = leafExt(dir, name, san);
  ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '825', '-extfile', ext], dir);
  fs.rmSync(path.join(dir, `${name}.csr`));
  fs.rmSync(path.join(dir, ext));
}

// A leaf whose validity ended in the past, via `openssl ca` (x509 -req cannot backdate on OpenSSL 3.0).
function newExpiredLeaf(dir, name, ca, san) {
  const db = path.join(dir, 'expired-ca');
  fs.mkdirSync(db, { recursive: true });
  fs.writeFileSync(path.join(db, 'index.txt'), '');
  fs.writeFileSync(path.join(db, 'serial'), '1000\n');
  fs.writeFileSync(path.join(db, 'ca.cnf'), `[ca]\ndefault_ca=x\n[x]\ndir=${db}\ndatabase=${db}/index.txt\nserial=${db}/serial\nnew_certs_dir=${db}\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=supplied\n[e]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1'], dir);
  ossl(['ca', '-batch', '-config', path.join(db, 'ca.cnf'), '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`,
    '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extensions', 'e',
    '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext'], dir);
  fs.rmSync(path.join(dir, `${name}.csr`));
  fs.rmSync(db, { recursive: true, force: true });
}

export const CERT_KINDS = ['normal', 'wrong_ca', 'wrong_host', 'expired', 'self_signed'];
const FILES = { normal: 'server', wrong_ca: 'wrong-ca-server', wrong_host: 'wrong-host', expired: 'expired', self_signed: 'self-signed' };

export function ensureCerts(stateDir) {
  const dir = stateDir;
  const SAN = 'IP:127.0.0.1,DNS:localhost';
  if (!fs.existsSync(path.join(dir, 'ca.pem')) || !fs.existsSync(path.join(dir, 'ca.key'))) {
    newCA(dir, 'ca', 'pam_authgear test CA');
    for (const f of ['server', 'wrong-host', 'expired']) fs.rmSync(path.join(dir, `${f}.pem`), { force: true });
  }
  if (!fs.existsSync(path.join(dir, 'server.pem'))) newLeaf(dir, 'server', 'ca', '127.0.0.1', SAN);
  if (!fs.existsSync(path.join(dir, 'wrong-host.pem'))) newLeaf(dir, 'wrong-host', 'ca', 'wrong.example.invalid', 'DNS:wrong.example.invalid');
  if (!fs.existsSync(path.join(dir, 'expired.pem'))) newExpiredLeaf(dir, 'expired', 'ca', SAN);
  if (!fs.existsSync(path.join(dir, 'wrong-ca.pem'))) {
    newCA(dir, 'wrong-ca', 'pam_authgear WRONG test CA');
    fs.rmSync(path.join(dir, 'wrong-ca-server.pem'), { force: true });
  }
  if (!fs.existsSync(path.join(dir, 'wrong-ca-server.pem'))) newLeaf(dir, 'wrong-ca-server', 'wrong-ca', '127.0.0.1', SAN);
  if (!fs.existsSync(path.join(dir, 'self-signed.pem'))) {
    ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self-signed.key',
      '-out', 'self-signed.pem', '-days', '825', '-subj', '/CN=127.0.0.1', '-addext', `subjectAltName=${SAN}`], dir);
  }
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.key')) fs.chmodSync(path.join(dir, f), 0o600);
  return loadCert;
  function loadCert(kind) {
    const base = FILES[kind];
    if (!base) throw new Error(`unknown cert kind ${kind}; one of ${CERT_KINDS.join(' ')}`);
    return { key: fs.readFileSync(path.join(dir, `${base}.key`)), cert: fs.readFileSync(path.join(dir, `${base}.pem`)) };
  }
}
