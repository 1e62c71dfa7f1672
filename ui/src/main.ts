import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { backend } from './lib/backend';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

void backend().then((b) => mount(App, { target, props: { backend: b } }));
