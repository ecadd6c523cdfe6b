// `koa2` is an npm alias of koa@2 without types of its own; the public API the tests use is the same as Koa 3's.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
