import { describe, expect, it } from 'vitest'
import {
  func,
  invalid,
  nonNegative,
  oneOf,
  positiveInteger,
  positiveNumber,
} from '../src/validate.js'

const WHERE = 'createThing'

describe('the validation kit', () => {
  it('throws one TypeError format: <where>: <name> must be <what>, e.g. <example>.', () => {
    expect(() => invalid(WHERE, 'keyPrefix', 'a string', "'af:'")).toThrow(
      new TypeError("createThing: keyPrefix must be a string, e.g. 'af:'."),
    )
    expect(() => invalid(WHERE, 'pool or source', 'given, not both')).toThrow(
      new TypeError('createThing: pool or source must be given, not both.'),
    )
  })

  it('returns a valid value with its checked type', () => {
    expect(positiveInteger(3, 'max', 100, WHERE)).toBe(3)
    expect(positiveNumber(0.5, 'openMs', 1000, WHERE)).toBe(0.5)
    expect(nonNegative(0, 'overlap', 60, WHERE, true)).toBe(0)
    expect(nonNegative(0.5, 'delay', 1, WHERE)).toBe(0.5)
    expect(oneOf('strict', 'mode', ['local', 'strict'], WHERE)).toBe('strict')
    const clock = () => 1
    expect(func(clock, 'clock', 'Date.now', WHERE)).toBe(clock)
  })

  it.each([
    [
      () => positiveInteger(0, 'max', 100, WHERE),
      'createThing: max must be a positive integer, e.g. 100.',
    ],
    [
      () => positiveInteger(1.5, 'max', 100, WHERE),
      'createThing: max must be a positive integer, e.g. 100.',
    ],
    [
      () => positiveInteger('1', 'max', 100, WHERE),
      'createThing: max must be a positive integer, e.g. 100.',
    ],
    [
      () => positiveNumber(0, 'openMs', 1000, WHERE),
      'createThing: openMs must be a positive number, e.g. 1000.',
    ],
    [
      () => positiveNumber(Number.NaN, 'openMs', 1000, WHERE),
      'createThing: openMs must be a positive number, e.g. 1000.',
    ],
    [
      () => positiveNumber(Number.POSITIVE_INFINITY, 'openMs', 1000, WHERE),
      'createThing: openMs must be a positive number, e.g. 1000.',
    ],
    [
      () => nonNegative(-1, 'overlap', 60, WHERE, true),
      'createThing: overlap must be a non-negative integer, e.g. 60.',
    ],
    [
      () => nonNegative(0.5, 'overlap', 60, WHERE, true),
      'createThing: overlap must be a non-negative integer, e.g. 60.',
    ],
    [
      () => nonNegative(-0.5, 'delay', 1, WHERE),
      'createThing: delay must be a non-negative number, e.g. 1.',
    ],
    [
      () => oneOf('lax', 'mode', ['local', 'strict', 'off'], WHERE),
      "createThing: mode must be 'local', 'strict' or 'off'.",
    ],
    [() => oneOf(2, 'level', [1], WHERE), 'createThing: level must be 1.'],
    [
      () => func(42, 'onError', '(error) => log(error)', WHERE),
      'createThing: onError must be a function, e.g. (error) => log(error).',
    ],
  ])('refuses with the message %#', (check, message) => {
    expect(check).toThrow(new TypeError(message))
  })
})
