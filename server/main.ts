// `npm run api`: one API process. Needs DATABASE_URL and TEMPORAL_ADDRESS (`npm start` provides both).
import { runApiProcess } from './api-process.js';

await runApiProcess();
