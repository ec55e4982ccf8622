/* The card form of a top-up's page: Stripe.js's card Element, and the payment confirmed with the provider.
   The card's details go from Stripe's Element to Stripe, never to this site. Then the page is loaded again:
   the server asks the provider where the payment stands, and shows it. */
"use strict";
(function () {
  const form = document.getElementById("card-form");
  if (!form || typeof Stripe !== "function") return;  // without Stripe.js the page says what to do instead
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  form.hidden = false;
  document.getElementById("card-needs-js").hidden = true;
  const button = document.getElementById("card-pay");
  const errors = document.getElementById("card-errors");
  const label = button.textContent;

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    button.textContent = form.dataset.paying;
    errors.hidden = true;
    const result = await stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } });
    if (result.error) {
      errors.textContent = result.error.message || String(result.error);
      errors.hidden = false;
      button.disabled = false;
      button.textContent = label;
      return;
    }
    window.location.assign(form.dataset.return);
  });
})();
