// What a sale sells, on its card: the product's picture (if it has one), name and
// description, and the sale price, with the list price struck through when they differ.

import { h, replace } from "./dom.js";
import { money, t } from "./i18n.js";

/**
 * The price as nodes: the sale price, then the list price struck through if it is another
 * one. Screen readers do not say that text is struck through, so each is named in words.
 */
export function priceNodes(price, listPrice) {
  const sale = money(price.amount, price.currency);
  const reduced = listPrice && listPrice.currency === price.currency && listPrice.amount !== price.amount;
  if (!reduced) return [h("strong", { class: "price__sale" }, sale)];
  return [
    h("strong", { class: "price__sale" }, h("span", { class: "visually-hidden" }, `${t("price.sale")}: `), sale),
    " ",
    h("span", { class: "price__list" }, h("span", { class: "visually-hidden" }, `${t("price.list")}: `), h("s", {}, money(listPrice.amount, listPrice.currency))),
  ];
}

/** Fill `el` (the card's product part) for `sale`; the picture is kept if it did not change. */
export function renderProduct(el, sale) {
  const { product, price } = sale;
  if (!product) {
    replace(el);
    return;
  }
  const src = product.image_url || "";
  let image = el.querySelector(".product__image");
  if (!src || image?.getAttribute("src") !== src) {
    image = src ? h("img", { class: "product__image", src, alt: product.name, loading: "lazy", decoding: "async" }) : null;
    // A picture that does not load (gone, or refused by the page's policy) leaves no gap.
    image?.addEventListener("error", () => {
      image.hidden = true;
      if (image.parentElement) image.parentElement.hidden = true;
    });
  }
  image?.setAttribute("alt", product.name);
  replace(
    el,
    image ? h("div", { class: "product__picture", hidden: image.hidden }, image) : null,
    h(
      "div",
      { class: "product__about" },
      h("p", { class: "product__name" }, product.name),
      product.description ? h("p", { class: "product__description" }, product.description) : null,
      price ? h("p", { class: "price" }, priceNodes(price, product.price)) : null,
    ),
  );
}
