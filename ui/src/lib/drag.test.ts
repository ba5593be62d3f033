import { describe, expect, it } from 'vitest';
import { fileUri } from './drag';

describe('fileUri', () => {
  it('encodes each segment of a Unix path', () => {
    expect(fileUri('/home/ann/Pictures/Easel/2026-12/a lighthouse #1.png')).toBe(
      'file:///home/ann/Pictures/Easel/2026-12/a%20lighthouse%20%231.png',
    );
  });
  it('keeps a Windows drive and turns backslashes into slashes', () => {
    expect(fileUri('C:\\Users\\ann\\Easel\\é.png')).toBe('file:///C:/Users/ann/Easel/%C3%A9.png');
  });
});
