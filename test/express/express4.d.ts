// Express 4 is installed under the npm alias `express4`; its API is typed with Express's types
// (the integration only uses what both majors share).
declare module 'express4' {
  import express from 'express'
  export default express
}
