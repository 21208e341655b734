// `@gafferhq/gaffer/cli`: the command line as a function (the `gaffer` bin calls it on process.argv).
export { buildProgram, runCli } from './program.js';
