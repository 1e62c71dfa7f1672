// Rejections become `AppError`s whose code is one Rust sends, or `internal`.
import { describe, expect, it } from 'vitest';
import { isErrorCode, toAppError } from './index';

describe('toAppError', () => {
  it('keeps an AppError from a command as it is', () => {
    expect(toAppError({ code: 'keyring', message: 'the keyring is locked' })).toEqual({ code: 'keyring', message: 'the keyring is locked' });
  });

  it('makes anything else internal: an unknown code, a string, an exception, nothing', () => {
    expect(toAppError({ code: 'teapot', message: 'short and stout' })).toEqual({ code: 'internal', message: 'short and stout' });
    expect(toAppError('invalid args `path` for command `list_dir`')).toEqual({ code: 'internal', message: 'invalid args `path` for command `list_dir`' });
    expect(toAppError(new TypeError('x is undefined'))).toEqual({ code: 'internal', message: 'x is undefined' });
    expect(toAppError(undefined).code).toBe('internal');
  });

  it('knows the codes by name, not by what an object inherits', () => {
    expect(isErrorCode('hostKeyChanged')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(3)).toBe(false);
  });
});
