/**
 * A sealed box: encrypt a short secret to a recipient's X25519 public key (an ephemeral key pair
 * per box, ECDH, SHA-256 → AES-256-GCM), so that a store that holds the box for a while cannot
 * read it. The CLI's browser-approved sign-in uses it: the manager seals the new login session's
 * secret to a key only the waiting CLI holds.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

function rawPublicKey(k: KeyObject): string {
  return (k.export({ format: 'jwk' }) as { x: string }).x;
}

function publicKeyOf(x: string): KeyObject {
  if (!/^[A-Za-z0-9_-]{43}$/.test(x)) throw new Error('not an X25519 public key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

function aesKey(shared: Buffer, ephemeral: string, recipient: string): Buffer {
  return createHash('sha256').update(shared).update(ephemeral).update(recipient).digest();
}

/** Seals `plaintext` to `recipient` (a base64url X25519 public key). Throws on a malformed key. */
export function sealTo(recipient: string, plaintext: string): string {
  const pub = publicKeyOf(recipient);
  const eph = generateKeyPairSync('x25519');
  const ephPub = rawPublicKey(eph.publicKey);
  const key = aesKey(diffieHellman({ privateKey: eph.privateKey, publicKey: pub }), ephPub, recipient);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return [
    ephPub,
    iv.toString('base64url'),
    c.getAuthTag().toString('base64url'),
    data.toString('base64url'),
  ].join('.');
}

/** A key pair to receive one sealed box. */
export function newRecipient(): { publicKey: string; open(box: string): string } {
  const pair = generateKeyPairSync('x25519');
  const publicKey = rawPublicKey(pair.publicKey);
  return {
    publicKey,
    open(box: string): string {
      const [ephPub, iv, tag, data] = box.split('.');
      if (!ephPub || !iv || !tag || data === undefined) throw new Error('not a sealed box');
      const key = aesKey(
        diffieHellman({ privateKey: pair.privateKey, publicKey: publicKeyOf(ephPub) }),
        ephPub,
        publicKey,
      );
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(data, 'base64url')), d.final()]).toString('utf8');
    },
  };
}
