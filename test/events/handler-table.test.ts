import { afterEach, describe, expect, it } from 'vitest';
import { refuseCodeGenerationForTests } from '../../src/compile.js';
import { type Attachment, compileDispatch, HandlerTable } from '../../src/events/handler-table.js';
import { codeGenerationAllowed } from '../support/code-generation.js';

afterEach(() => refuseCodeGenerationForTests(false));

function attachment(
  id: string,
  eventNames: string[],
  handler: Attachment['handler'],
  config?: unknown,
): Attachment {
  return { id, eventNames, handler, config, failure: undefined };
}

describe('HandlerTable', () => {
  it('removes an attachment from every event, and only the one whose id it still holds', () => {
    const table = new HandlerTable(() => {});
    const seen: string[] = [];
    const old = attachment('h', ['a.one', 'a.two'], (name) => seen.push(`old ${name}`));
    table.add(old);
    table.add(attachment('other', ['a.one'], (name) => seen.push(`other ${name}`)));
    expect(table.remove(old)).toBe(true);
    const current = attachment('h', ['a.two'], (name) => seen.push(`new ${name}`));
    table.add(current);
    // The id now belongs to another attachment: removing the old one again changes nothing.
    expect(table.remove(old)).toBe(false);
    expect(table.get('h')).toBe(current);
    table.dispatchByEvent.get('a.one')?.('a.one', {}, {});
    table.dispatchByEvent.get('a.two')?.('a.two', {}, {});
    expect(seen).toEqual(['other a.one', 'new a.two']);
    expect(table.remove(current)).toBe(true);
    expect([...table.byEvent.keys()]).toEqual(['a.one']);
    expect([...table.dispatchByEvent.keys()]).toEqual(['a.one']);
  });
});

describe('compileDispatch', () => {
  it('generates a dispatch of its own for each handler list, named after the event', () => {
    const dispatch = compileDispatch(
      'shop.order.stop',
      [attachment('x', ['shop.order.stop'], () => {})],
      () => {},
    );
    if (codeGenerationAllowed) expect(String(dispatch)).toMatch(/\/\* dispatch shop\.order\.stop #\d+ \*\//);
  });

  it.each([
    ['generated', false],
    ['plain, where code generation is refused', true],
  ])(
    '%s: calls every handler in order with its config, and reports one that throws without stopping',
    (_label, refuse) => {
      refuseCodeGenerationForTests(refuse);
      const calls: unknown[] = [];
      const failures: unknown[] = [];
      const boom = new Error('boom');
      const list = [
        attachment('a', ['e'], (name, m, md, config) => calls.push([name, m, md, config]), 'first'),
        attachment('b', ['e'], () => {
          throw boom;
        }),
        attachment('c', ['e'], (_name, _m, _md, config) => calls.push(config), 'third'),
      ];
      const dispatch = compileDispatch('e', list, (failed, eventName, error) =>
        failures.push([failed.id, eventName, error]),
      );
      dispatch('e', { v: 1 }, { k: 'x' });
      expect(calls).toEqual([['e', { v: 1 }, { k: 'x' }, 'first'], 'third']);
      expect(failures).toEqual([['b', 'e', boom]]);
      if (refuse) expect(String(dispatch)).not.toContain('/* dispatch');
    },
  );
});
