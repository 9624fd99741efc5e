import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  QUANTITY_FORMAT_MESSAGE,
  QUANTITY_SUFFIX_MESSAGE,
  QuantityError,
  addQuantities,
  compareQuantities,
  formatQuantity,
  milliValue,
  newMilliQuantity,
  newQuantity,
  parseQuantity,
  roundUpQuantity,
  subtractQuantities,
  tryParseQuantity,
  value,
} from './quantity.js';

const canon = (s: string | number): string => formatQuantity(parseQuantity(s));

test('canonical strings match apimachinery Quantity.String()', () => {
  const cases: [string | number, string][] = [
    ['250m', '250m'],
    ['0.5', '500m'],
    ['.5', '500m'],
    ['1000m', '1'],
    ['1', '1'],
    ['1000', '1k'],
    ['1500', '1500'],
    ['1k', '1k'],
    ['1Gi', '1Gi'],
    ['1024Mi', '1Gi'],
    ['1.5Gi', '1536Mi'],
    ['0.5Gi', '512Mi'],
    ['1.5Ki', '1536'],
    ['100Ki', '100Ki'],
    ['1023Ki', '1023Ki'],
    ['512', '512'],
    ['1e3', '1e3'],
    ['1.5e3', '1500'],
    ['5e-3', '5e-3'],
    ['1E3', '1e3'],
    ['100u', '100u'],
    ['1n', '1n'],
    ['1.5m', '1500u'],
    ['-1', '-1'],
    ['+5', '5'],
    ['-2Ki', '-2Ki'],
    ['0', '0'],
    ['0Gi', '0'],
    ['00012', '12'],
    ['128974848', '128974848'],
    [2, '2'],
    [0.25, '250m'],
    [1e21, '9223372036854775807'],
  ];
  for (const [input, want] of cases) assert.equal(canon(input), want, `canonical form of ${String(input)}`);
});

test('values below a nano-unit round up, huge values are capped at 2^63-1 units', () => {
  assert.equal(parseQuantity('0.1n').nanos, 1n);
  assert.equal(parseQuantity('-0.1n').nanos, -1n);
  assert.equal(parseQuantity('1e-30').nanos, 1n);
  assert.equal(parseQuantity('10E').nanos, (2n ** 63n - 1n) * 1_000_000_000n);
  assert.equal(parseQuantity('1e100000').nanos, (2n ** 63n - 1n) * 1_000_000_000n);
});

test('milliValue and value round up', () => {
  assert.equal(milliValue(parseQuantity('250m')), 250);
  assert.equal(milliValue(parseQuantity('2')), 2000);
  assert.equal(milliValue(parseQuantity('100u')), 1);
  assert.equal(milliValue(parseQuantity('0.5')), 500);
  assert.equal(value(parseQuantity('1Gi')), 1073741824);
  assert.equal(value(parseQuantity('1.5')), 2);
  assert.equal(value(parseQuantity('128Mi')), 134217728);
  assert.equal(value(parseQuantity('1k')), 1000);
  assert.equal(value(parseQuantity('1e3')), 1000);
});

test('malformed text throws QuantityError with apimachinery messages', () => {
  for (const bad of ['abc', '', ' 1', '1 ', '1.5.5', '1Qi', '1,5']) {
    assert.throws(() => parseQuantity(bad), (e: unknown) => e instanceof QuantityError && e.message === QUANTITY_FORMAT_MESSAGE, bad);
  }
  for (const bad of ['1kK', '1e', '1Mi5', '1K', '1mi', '1i', '1-']) {
    assert.throws(() => parseQuantity(bad), (e: unknown) => e instanceof QuantityError && e.message === QUANTITY_SUFFIX_MESSAGE, bad);
  }
  assert.throws(() => parseQuantity(Number.NaN), QuantityError);
  // apimachinery quirks kept: an empty number part means zero.
  assert.equal(parseQuantity('Mi').nanos, 0n);
  assert.equal(parseQuantity('-').nanos, 0n);
  assert.equal(new QuantityError('x').code, 'InvalidQuantity');
  assert.equal(tryParseQuantity('nope'), undefined);
  assert.equal(tryParseQuantity({}), undefined);
  assert.equal(tryParseQuantity('1Mi')?.nanos, 1048576n * 1_000_000_000n);
});

test('formatQuantity with a fixed unit prints whole units, rounded up', () => {
  assert.equal(formatQuantity(parseQuantity('1Mi'), 'Ki'), '1024Ki');
  assert.equal(formatQuantity(parseQuantity('1000'), 'Ki'), '1Ki');
  assert.equal(formatQuantity(parseQuantity('1.5'), 'm'), '1500m');
  assert.equal(formatQuantity(parseQuantity('250m'), 'm'), '250m');
  assert.equal(formatQuantity(parseQuantity('3Gi'), 'Mi'), '3072Mi');
});

test('arithmetic and comparison are exact and keep the first operand format', () => {
  assert.equal(formatQuantity(addQuantities(parseQuantity('250m'), parseQuantity('750m'))), '1');
  assert.equal(formatQuantity(addQuantities(parseQuantity('1Gi'), parseQuantity('512Mi'))), '1536Mi');
  assert.equal(formatQuantity(addQuantities(parseQuantity('0.1'), parseQuantity('0.2'))), '300m');
  assert.equal(formatQuantity(addQuantities()), '0');
  assert.equal(formatQuantity(addQuantities(newQuantity(0, 'BinarySI'), parseQuantity('2Gi'))), '2Gi');
  assert.equal(formatQuantity(subtractQuantities(parseQuantity('2'), parseQuantity('250m'))), '1750m');
  assert.equal(compareQuantities(parseQuantity('1'), parseQuantity('1000m')), 0);
  assert.equal(compareQuantities(parseQuantity('1Gi'), parseQuantity('1G')), 1);
  assert.equal(compareQuantities(parseQuantity('999m'), parseQuantity('1')), -1);
  assert.equal(formatQuantity(newMilliQuantity(1500)), '1500m');
  assert.equal(formatQuantity(newQuantity(2048, 'BinarySI')), '2Ki');
  assert.equal(formatQuantity(roundUpQuantity(parseQuantity('0.5m'), -3)), '1m');
  assert.equal(formatQuantity(roundUpQuantity(parseQuantity('250m'), -3)), '250m');
});
