import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { app } from './lib/state.svelte';

document.documentElement.lang = app.lang === 'zh' ? 'zh-CN' : 'en';

export default mount(App, { target: document.getElementById('app')! });
