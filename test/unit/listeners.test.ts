import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Listeners } from '../../src/events/listeners.js';

describe('Listeners', () => {
  it('calls every subscriber in subscription order until it unsubscribes', () => {
    const listeners = new Listeners<number>();
    const heard: string[] = [];
    const stopA = listeners.subscribe((n) => heard.push(`a${n}`));
    listeners.subscribe((n) => heard.push(`b${n}`));
    listeners.emit(1);
    stopA();
    listeners.emit(2);
    assert.deepEqual(heard, ['a1', 'b1', 'b2']);
  });
});
