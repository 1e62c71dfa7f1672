// jsdom lacks a few things the window uses; give it harmless stand-ins.
import { configure } from '@testing-library/svelte';
import { vi } from 'vitest';

// A busy machine (a Rust build beside the tests) is slower than a laptop.
configure({ asyncUtilTimeout: 5000 });

if (!navigator.clipboard) {
  Object.defineProperty(navigator, 'clipboard', { value: { writeText: vi.fn(async () => {}) }, configurable: true });
}

if (!Element.prototype.scrollIntoView) Element.prototype.scrollIntoView = () => {};
if (!Element.prototype.setPointerCapture) Element.prototype.setPointerCapture = () => {};
