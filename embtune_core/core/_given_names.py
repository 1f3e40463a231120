"""Common given names, for :mod:`.privacy`'s free-text name rule (no NER model is loaded).

Two lists, lower-case. :data:`GIVEN` are names that are (almost) never ordinary English or
help-center words: a match anywhere, in any case, starts a name. :data:`AMBIGUOUS` are names that
are also words ("grace period", "mark as paid", "max retries", "bill"): they count only when
written Capitalised and followed by a Capitalised surname ("Grace Okafor", not "Grace period").
"Will" and "May" are left out: a question starting "Will Ledgerline ..." is no name. Names of people
in other scripts, and rare names, are not in here: a sign-off still catches those (see
:func:`~.privacy.signature_entities`).
"""

from __future__ import annotations

_GIVEN = """
aaliyah aaron abdul abdullah abebe abena abhishek abigail abimbola abraham adaeze adam adebayo adele
adeola adewale aditi aditya adriana adrian adrien agnieszka agnes ahmad ahmed aiden aiko aileen aimee
ainhoa aisha aishwarya aiyana akash akira akosua akua alain alana alastair albert alberto aleksander
aleksandra alessandro alessia alex alexa alexander alexandra alexandre alexei alexis alfonso alfredo
ali alicia alice alina alisha alison alistair allison alonso alvaro amadou amaia amanda amara amarachi
amelia amelie amina amir amit amos amy ana anastasia anders andre andrea andreas andrei andres andrew
andrzej aneta angela angelica angelo anika anil anita anja anjali ann anna annabel anne anneke annika
anthony antoine anton antonio anusha aoife arash arjun arnav arno aron artur arturo arvid aryan asha
ashok ashley astrid aurelie ayaan ayesha ayodele ayumi aziz babajide barbara baptiste barry bastian
beatriz beatrice ben benedikt benjamin bernard bernardo bettina bianca bilal bjorn björn 
bogdan boris brenda brendan brian bridget brigitte bruno bryan bukola caitlin callum camila camille
carla carlos carmen caroline carsten catalina catherine cecilia celine cesar chanel charlotte
chen chiamaka chidi chidinma chinedu chioma chloe chloé christian christina christine christoph
christopher chukwuemeka ciara ciaran claire clara claudia clement colin conor constanza cristina
cristian cyril dagmar dalia damian damien daniel daniela daniele danielle dariusz darius darren david
davide deborah declan deepa deepak deepika delphine denis dennis derek desmond devendra dhruv diana
diego dieter dimitri dimitris dinesh divya dmitri dmitry dominik dominika dominique donovan dorota
edith eduardo edward efua ekaterina elena eleni elias elijah elisa elisabeth elise eliza
elizabeth ella ellie elodie eloise emeka emil emilia emilie emilio emily emma emmanuel emre enrique
enzo eoin erik erika erin ernesto esra esther ethan eugene eva evelyn ewa ewan fabian fabio fabrice
fahad farah farhan farid fatih fatima fatma federica federico felipe felix femi fernanda fernando
filip filipa fiona florian folake francesca francesco francisco franziska françois francois frederik
freya gabriel gabriela gabriele gaurav gemma georg george gerard gerhard giacomo gianluca
gianni gillian giorgio giovanni giulia giuseppe gonzalo graham gregor gregory greta guadalupe
guillaume gunnar gustavo hamza hana hannah hans harald harish haruka haruki haruto hassan heike
heinrich helen helena helga hendrik henrik henrique hiroshi hiroki hugo hussein ian ibrahim ida ifeoma
ignacio igor ikechukwu ilse imogen inês ines ingrid ioana irene irina isaac isabel isabella isabelle
ishaan isla ismail ivan ivana jacinta jacob jacqueline jakob jakub james jamal jamie janet janina
janine jannik jarrah jasmin jasmine jason javier jayden jelena jennifer jenny jens jeremy jerome
jessica jesús jesus jihoon jimena joanna joao joão joaquin joaquín jocelyn joel johan johann johanna
johannes john jonas jonathan jordi jorge josé jose josef joseph josephine joshua juan julia julian
juliana julie julien julio julius jürgen jurgen justyna kaito kamal kamala kamil karen karim karin
karina karl karolina kasia kassandra katarina katarzyna kate katharina katherine kathleen katja katrin
kavya kayode kelechi kemal kemi kenji kenneth kenta kevin khadija khaled khalid kiara kieran kimberly
kiran kirsten klaus koen kofi kojo konrad kouassi krishna kristian kristina krzysztof kumar kwabena
kwadwo kwaku kwame kwasi kyle laila lakshmi lara larissa lars laura laurent lauren lea leah leandro
leila lena leon leonardo leonie liam lidia liesbeth lina linda lindiwe linnea lionel lisa lise liu
lorenzo louis louise luana luca lucas lucia luciana lucie lucy ludwig luis luisa lukas lukasz łukasz
luke lwazi maciej madison magdalena magnus mahmoud maja malcolm malgorzata małgorzata malik manon
manuel manuela marc marcel marcela marcelo marco marcos marcus margaret margarida margot maria mariam
mariana marie marina mario marion marisol mariusz marta martin martina maryam mateo matei mateus
mathias mathieu matias matilda matteo matthew matthias maximilian maya mehdi mehmet meera megan
mehwish melanie melissa mia michael michaela michal michał michel michelle miguel mihai mikael mikhail
mikkel milena mina mira miriam mohamed mohammad mohammed moritz muhammad musa mustafa nadia
nadine naledi naoki naomi natalia natalie nathalie nathan neha nikhil niklas nikola nikolai nikolaos
nikos nils nina nisha noah noemi nomvula nora nuno obinna oksana olaf oleksandr olga oliver olivia
olivier oluwaseun omar ondrej oscar oskar osman pablo paola pascal patricia patrick paula paulina
pavel pawel paweł pedro petra philipp philippe pierre pietro piotr pooja prakash pranav prashant
priya priyanka rachel rafael rafał raffaele rahul rajesh rajiv ramesh ramon ramón rania raquel rashid
ravi rebecca renata rene rené ricardo riccardo richard rishi rita riya robert roberta roberto rodrigo
rohan rohit roman romain rosa rosalind rosario ruben rubén rui rupert ruth ryan saanvi sabine sabrina
sachin sadia saeed sakura salma salvatore samir samira samuel sandeep sandra sanjay sara
sarah sasha saskia sean sebastian sebastián sebastien sébastien selin senthil sergei sergey sergio
seun shanice shira shreya shruti siddharth sigrid silvia simon simone siobhan sipho siddiq sneha
sofia sofía sophia sophie soren søren stefan stefanie stefano steffen stephanie stephen steven
suleiman sunil suresh susanne suzanne svetlana sven swati sylvie tamara tanvir tanya tariq tatiana
teresa thabo theo theodore thiago thomas tiago tim timo timothy tobias tomas tomás tomasz
tom tommaso tomoko toni tunde ulrich ursula usman uwe valentina valentin valeria vanessa varun vasilis
veronica veronika vicente victor vijay vikram vincent vincenzo violeta vivek vladimir
wanjiru wei wiebke wilhelm willem wojciech wolfgang xavier xiaoming ximena yaw yasmin yasmine yasser
yara yewande yiannis yohannes yolanda yosef youssef yuki yuko yusuf yuto yvonne zainab zanele zara
zeynep zhang zoe zoë zofia zuzanna
"""

_AMBIGUOUS = """
amber april art august basil bill chase cliff daisy dale dawn dean drew eve faith frank gene
glen grace guy hazel heath heather holly hope iris ivy jack jade jan jay jean joy june kit lily
mark max mercy miles olive pat patience penny pearl ray reed rich rob rose ruby rusty sage
sandy sky stone summer sunny violet wade
"""

GIVEN: frozenset[str] = frozenset(_GIVEN.split())
AMBIGUOUS: frozenset[str] = frozenset(_AMBIGUOUS.split())
#: Lower-case particles inside family names ("Van Dijk", "de la Cruz", "O'Brien" needs none).
PARTICLES: frozenset[str] = frozenset("van von de der den del della di da das dos du la le ten ter bin ibn al el".split())
