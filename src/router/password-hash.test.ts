import { it } from 'node:test';
import assert from 'node:assert/strict';
import { isSha512Crypt, sha512Crypt, verifySha512Crypt } from './password-hash.ts';

// Test vectors from the specification (akkadia.org/drepper/SHA-crypt.txt).
const vectors: [string, string, number | undefined, string][] = [
  ['Hello world!', 'saltstring', undefined, '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  ['Hello world!', 'saltstringsaltstring', 10000, '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
  [
    'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    'anotherlongsaltstring',
    1400,
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  ],
];

it('reproduces the specification test vectors', () => {
  for (const [password, salt, rounds, hash] of vectors) {
    assert.equal(sha512Crypt(password, salt, rounds), hash);
    assert.ok(verifySha512Crypt(password, hash));
    assert.ok(!verifySha512Crypt(`${password}x`, hash));
  }
});

it('salts each new hash at random and verifies it', () => {
  const a = sha512Crypt('pw');
  const b = sha512Crypt('pw');
  assert.notEqual(a, b);
  assert.ok(isSha512Crypt(a) && verifySha512Crypt('pw', a) && verifySha512Crypt('pw', b));
  assert.ok(!isSha512Crypt('password123') && !verifySha512Crypt('password123', 'password123'));
});
