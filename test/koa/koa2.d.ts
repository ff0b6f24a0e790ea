// Koa 2 is installed under the npm alias `koa2`; its API is typed with Koa's types (the
// integration only uses what both majors share).
declare module 'koa2' {
  import Koa from 'koa'
  export default Koa
}
