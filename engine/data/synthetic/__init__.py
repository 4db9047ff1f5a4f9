"""A seeded synthetic shop whose true parameters are known, so that every model can be scored against
the truth: churn and lifetime value (customers follow a Pareto/NBD process), recommendations (customers
and products have latent taste factors), and pricing (products have known own-price elasticities, and
the retailer's promotions can be confounded with demand shocks).

How a shop is made (weeks ``t``, products ``j``, categories ``c``, customers ``i``):

1. Customers arrive during the first ``acquisition_weeks``; each has a visit rate ``lambda_i ~ Gamma``
   (visits a week) and a dropout rate ``mu_i ~ Gamma``; the customer is lost after ``tau_i ~ Exp(mu_i)``
   weeks. Visits are a Poisson process while alive (Pareto/NBD).
2. Expected units of product ``j`` in week ``t``::

       mu_jt = basket x share_j x visits_t x season_ct x exp(eta_ct + nu_jt)
               x (price_jt / reference_price_j) ** elasticity_j x lift(display, mailer)
               x exp(cross_c x mean over the category's other products k of log(price_kt / reference_price_k))

   ``eta_ct`` (category-week) and ``nu_jt`` (product AR(1)) are demand shocks nobody observes.
   Demand is drawn as Poisson by inverse CDF from fixed uniforms; sales are demand capped by stock.
3. Prices: the unit cost follows a random walk (a category factor plus the product's own), and the
   regular price is reset to cost x markup at periodic reviews, on a .49/.99 ladder, so cost shocks pass
   through to price (an observed instrument). Vendors fund trade deals at random (their own calendar):
   a deal lowers that week's unit cost (an off-invoice allowance) and makes a promotion much more
   likely, so the observed unit cost also carries the promotion cost. A promotion takes 10-40% off.
   With ``confounded=True`` the retailer also promotes when it expects demand to be high (its promotion
   probability rises with the unobserved shocks); with ``confounded=False`` it promotes at random
   apart from deals. Display and mailer flags are observed; by default independent of the shocks and
   of promotions (``display_promotion`` makes them come with promotions, ``display_confounding`` makes
   displays follow the demand shock). ``manager_pricing`` makes the regular price set at a review move
   with the demand shock the manager sees (a confounder of the shelf price itself, not only of promotions).
   ``prices_paid`` records the paid price as the unit price with no discount (no list price in the data).
4. Each product-week's units are handed out to that week's visits with probabilities proportional to
   ``exp(affinity x <customer factors, product factors>)``, giving order lines. A visit that receives
   no unit leaves no record (``truth.empty_visit_share`` says how often; rare at the default basket).
5. A small share of lines is returned later (negative quantity).
6. After-sales (:mod:`engine.data.aftersales` tables): a visit is followed by a support contact with
   probability ``contact_rate`` (opened 0-3 days later, a random channel; a complaint with probability
   ``complaint_share``, else another topic). A contact is resolved after ``Exp(resolve_days)`` days (a
   complaint after ``Exp(complaint_resolve_days)``), except a share ``unresolved_share`` of the
   complaints, which stay open. **The known effect**: while a
   customer has a complaint open, their dropout hazard is multiplied by ``complaint_hazard`` (1 = no
   effect; the lifetime draw is the same, so the twin shops with the effect on and off share every
   draw and differ only in who leaves earlier). A resolved contact is rated 1-5 (lower the longer it
   took, lower for a complaint) with probability ``rating_rate``; a visit is followed by an NPS or CSAT
   answer with probability ``survey_rate``, lower while a complaint is open.

Exogenous randomness comes from independent child streams of one seed sequence, so the twin shops
``confounded=True/False`` share every draw (costs, shocks, promotion uniforms, customers) and differ
only in which weeks are promoted and what follows from it.
"""

from engine.data.synthetic.config import SyntheticShopConfig, SyntheticTruth
from engine.data.synthetic.prices import ladder_price
from engine.data.synthetic.shop import generate_shop

__all__ = ["SyntheticShopConfig", "SyntheticTruth", "generate_shop", "ladder_price"]
