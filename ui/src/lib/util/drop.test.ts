import { describe, expect, it } from 'vitest';
import type { Entry } from '../backend';
import { dropTarget, handleOsDrop, type DropZone, type OsDragDropPayload } from './drop';

const row = (name: string, kind: Entry['kind']): Entry => ({ name, kind, linkToDir: false, size: 1, mtime: 0, mode: 0o644 });

// Two panes side by side in a 1280-CSS-pixel window; rows 26 px high.
const local: DropZone = {
  side: 'local',
  dir: '/home/you',
  pane: { left: 10, top: 60, width: 620, height: 500 },
  list: { left: 10, top: 150, width: 620, height: 380 },
  scrollTop: 0,
  rowHeight: 26,
  rows: [row('Documents', 'dir'), row('notes.txt', 'file')],
};
const remote: DropZone = {
  side: 'remote',
  dir: '/home/demo',
  pane: { left: 650, top: 60, width: 620, height: 500 },
  list: { left: 650, top: 150, width: 620, height: 380 },
  scrollTop: 260, // scrolled down ten rows
  rowHeight: 26,
  rows: [...Array.from({ length: 10 }, (_, i) => row(`f${i}`, 'file')), row('public_html', 'dir'), row('readme.md', 'file')],
};

describe('dropTarget', () => {
  it('a folder row under the pointer', () => {
    // Row 10 (public_html) is the first visible row after scrolling 260 px.
    expect(dropTarget({ x: 700, y: 155 }, [local, remote])).toEqual({ side: 'remote', dir: '/home/demo/public_html', row: 'public_html' });
  });
  it("a file row or empty space: the pane's folder", () => {
    expect(dropTarget({ x: 700, y: 185 }, [local, remote])).toEqual({ side: 'remote', dir: '/home/demo', row: null });
    expect(dropTarget({ x: 700, y: 500 }, [local, remote])).toEqual({ side: 'remote', dir: '/home/demo', row: null });
    expect(dropTarget({ x: 700, y: 90 }, [local, remote])).toEqual({ side: 'remote', dir: '/home/demo', row: null });
  });
  it('outside every pane: nothing', () => {
    expect(dropTarget({ x: 640, y: 200 }, [local, remote])).toBeNull();
    expect(dropTarget({ x: 700, y: 700 }, [local, remote])).toBeNull();
  });
});

describe('handleOsDrop', () => {
  it("takes Tauri's payload in physical pixels and finds the folder under the pointer", () => {
    // Exactly what getCurrentWebview().onDragDropEvent delivers as event.payload on a 2x screen.
    const payload: OsDragDropPayload = { type: 'drop', paths: ['/home/you/photo.jpg', '/home/you/video.mp4'], position: { x: 1400, y: 310 } };
    expect(handleOsDrop(payload, [local, remote], 2)).toEqual({
      target: { side: 'remote', dir: '/home/demo/public_html', row: 'public_html' },
      paths: ['/home/you/photo.jpg', '/home/you/video.mp4'],
    });
  });
  it('at 1x the same point is elsewhere', () => {
    const payload: OsDragDropPayload = { type: 'drop', paths: ['/tmp/a'], position: { x: 700, y: 185 } };
    expect(handleOsDrop(payload, [local, remote], 1)?.target).toEqual({ side: 'remote', dir: '/home/demo', row: null });
  });
  it('ignores enter / over / leave and empty drops', () => {
    expect(handleOsDrop({ type: 'over', position: { x: 1400, y: 310 } }, [local, remote], 2)).toBeNull();
    expect(handleOsDrop({ type: 'enter', paths: ['/a'], position: { x: 1400, y: 310 } }, [local, remote], 2)).toBeNull();
    expect(handleOsDrop({ type: 'leave' }, [local, remote], 2)).toBeNull();
    expect(handleOsDrop({ type: 'drop', paths: [], position: { x: 1400, y: 310 } }, [local, remote], 2)).toBeNull();
  });
});
