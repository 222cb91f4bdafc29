// Type declarations for the two untyped dependencies, limited to what Passerelle uses.

declare module "ltx" {
  export type Node = Element | string;

  /** An XML element: name with its prefix, attributes (xmlns declarations included), children. */
  export class Element {
    constructor(name: string, attrs?: Record<string, string> | string);
    name: string;
    parent: Element | null;
    children: Node[];
    attrs: Record<string, string>;
    is(name: string, xmlns?: string): boolean;
    /** The local name (without prefix). */
    getName(): string;
    /** The namespace, looked up through the parents. */
    getNS(): string | undefined;
    findNS(prefix?: string): string | undefined;
    getAttr(name: string, xmlns?: string): string | null | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    root(): Element;
    up(): Element;
    c(name: string, attrs?: Record<string, string> | string): Element;
    cnode<T extends Node>(child: T): T;
    append(...nodes: Node[]): void;
    prepend(...nodes: Node[]): void;
    t(text: string): this;
    remove(el: Element | string, xmlns?: string): this;
    attr(name: string): string | undefined;
    attr(name: string, value: string): this;
    toString(): string;
    write(writer: (part: string) => void): void;
  }

  export function escapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
}

declare module "punycode/punycode.es6.js" {
  /** RFC 3492 encoding of one label's code points (without the "xn--" prefix). */
  export function encode(input: string): string;
  export function decode(input: string): string;
  export function toASCII(domain: string): string;
  export function toUnicode(domain: string): string;
}
