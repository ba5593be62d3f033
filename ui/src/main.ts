import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { theme } from './lib/theme.svelte';

const target = document.getElementById('app');
if (!target) {
  throw new Error('missing #app element');
}

// Before the first paint, so a dark theme does not flash light.
theme.init();

export default mount(App, { target });
