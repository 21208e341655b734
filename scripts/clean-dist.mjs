// A build starts from an empty dist/, so no file of a deleted or renamed source is packed.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
